// pain.001.001.09 (Customer Credit Transfer Initiation) from a plain struct. Pure: no I/O,
// no clock (the creation time is an input), thread-safe.
//
//   CreditTransferInitiation msg{.message_id = "INV-42-1", .creation_time_ms = now_ms,
//                                .initiating_party_name = "Acme", .payment_infos = {...}};
//   StatusOr<std::string> xml = WritePain001(msg);  // UTF-8, namespace kPain001Namespace
//
// Every field is checked before anything is written (kInvalidInput names the field), so
// an answer that is ok() is valid against the official XSD. Amounts are int64 minor units
// with the ISO 4217 exponent of their currency (command/money.h); IDR must be whole rupiah.
// NbOfTxs and CtrlSum (group and per payment info) are computed exactly, in integers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "iso20022/result.h"

namespace payorch::iso20022 {

inline constexpr std::string_view kPain001Namespace =
    "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";

// Most credit transfer transactions in one message (all payment infos together).
inline constexpr size_t kMaxTransactionsPerMessage = 10'000;

struct Amount {
  int64_t minor = 0;     // > 0, <= kMaxAmountMinor (10^15), ISO 4217 minor units
  std::string currency;  // ISO 4217 code known to command/money.h, upper case
};

struct CreditTransfer {
  std::string end_to_end_id;  // 1-35 chars, unique in the message: pain.002 answers by it
  Amount amount;
  std::string creditor_name;    // 1-140 chars
  std::string creditor_iban;    // IBAN, checksum verified (ISO 13616 mod 97)
  std::string creditor_bic;     // BIC (8 or 11); empty: no CdtrAgt is written
  std::string remittance_info;  // unstructured, 0-140 chars; empty: no RmtInf is written
};

struct PaymentInfo {
  std::string payment_info_id;  // 1-35 chars, unique in the message
  std::chrono::year_month_day requested_execution_date;
  std::string debtor_name;  // 1-140 chars
  std::string debtor_iban;
  std::string debtor_bic;                    // required: DbtrAgt
  std::vector<CreditTransfer> transactions;  // at least one
};

struct CreditTransferInitiation {
  std::string message_id;                  // 1-35 chars
  int64_t creation_time_ms = 0;            // Unix ms, written as UTC: 2026-12-05T11:18:49.123Z
  std::string initiating_party_name;       // 1-140 chars
  std::vector<PaymentInfo> payment_infos;  // at least one
};

// The XML document, or kInvalidInput naming the first field that breaks a rule.
[[nodiscard]] StatusOr<std::string> WritePain001(const CreditTransferInitiation& message);

}  // namespace payorch::iso20022
