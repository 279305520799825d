// pain.002.001.12 (Customer Payment Status Report) -> plain structs, and the outcome of
// every transaction of the pain.001 it answers. Input is untrusted bank XML: a document over
// kMaxPain002Bytes, with any DOCTYPE, not well-formed, with another root or namespace is
// refused with a distinct ErrorCode (ErrorCodeOf(status), result.h) before any field is
// read. Thread-safe, no I/O.
//
//   StatusOr<PaymentStatusReport> report = ParsePain002(xml);
//   if (!report.ok()) { dead_letter(ErrorCodeOf(report.status()), report.status()); }
//   StatusOr<std::vector<TransactionOutcome>> outcomes = ResolveOutcomes(report.value(), sent);
//   for (auto& o : outcomes.value()) { o.end_to_end_id, o.outcome, o.status, o.reasons }
//
// De-duplication is the caller's: a bank may deliver the same report twice; apply a report
// once per (sender, message_id) and keep terminal outcomes from regressing
// (docs/iso20022.md).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "iso20022/pain001.h"
#include "iso20022/result.h"

namespace payorch::iso20022 {

inline constexpr std::string_view kPain002Namespace =
    "urn:iso:std:iso:20022:tech:xsd:pain.002.001.12";

// Largest pain.002 accepted, in bytes, checked before parsing. A report on each of the
// kMaxTransactionsPerMessage transactions of a pain.001, indented, each with an id, a
// reason code, 105 characters of AddtlInf and a bank reference, is about 4.9 MiB.
inline constexpr size_t kMaxPain002Bytes = 8 * 1024 * 1024;

enum class Outcome { kAccepted, kRejected, kPending };
std::string_view OutcomeName(Outcome outcome);

// The table of docs/iso20022.md: ACSP ACSC ACCC ACWC ACWP ACPD ACIS -> accepted; RJCT
// CANC -> rejected; everything else (ACTC ACCP ACFC RCVD PDNG PART PATC BLCK PRES, any
// unknown code) -> pending, so no code we do not know resolves a payment.
[[nodiscard]] Outcome OutcomeOfStatus(std::string_view iso_status);

struct StatusReason {
  std::string code;                          // Rsn/Cd (ISO external code, e.g. AC04)
  std::string proprietary;                   // Rsn/Prtry
  std::vector<std::string> additional_info;  // AddtlInf, in document order
};

struct TransactionStatus {
  std::string original_end_to_end_id;
  std::string status;  // TxSts as sent; empty: not given (the payment info's applies)
  std::vector<StatusReason> reasons;
};

struct PaymentInfoStatus {
  std::string original_payment_info_id;
  std::string status;  // PmtInfSts; empty: not given (the group's applies)
  std::vector<StatusReason> reasons;
  std::vector<TransactionStatus> transactions;
};

struct PaymentStatusReport {
  std::string message_id;                // GrpHdr/MsgId: the de-duplication key
  std::string creation_time;             // GrpHdr/CreDtTm as sent
  std::string original_message_id;       // the pain.001's MsgId
  std::string original_message_name_id;  // e.g. pain.001.001.09
  std::string group_status;              // GrpSts; empty: not given
  std::vector<StatusReason> group_reasons;
  std::vector<PaymentInfoStatus> payment_infos;
};

[[nodiscard]] StatusOr<PaymentStatusReport> ParsePain002(std::string_view xml);

// Where the status that decided an outcome was given.
enum class StatusLevel { kTransaction, kPaymentInfo, kGroup, kNone };

struct TransactionOutcome {
  std::string end_to_end_id;
  std::string payment_info_id;
  Outcome outcome = Outcome::kPending;
  std::string status;  // the deciding ISO code; empty when kNone
  StatusLevel level = StatusLevel::kNone;
  std::vector<StatusReason> reasons;  // the deciding level's reasons
};

// One outcome per transaction of `original`, in its order: the transaction's own status,
// else its payment info's, else the group's, else pending (kNone). kInvalidContent when the
// report answers another message, or names a payment info or end-to-end id that `original`
// does not have, or names one transaction twice.
[[nodiscard]] StatusOr<std::vector<TransactionOutcome>> ResolveOutcomes(
    const PaymentStatusReport& report, const CreditTransferInitiation& original);

}  // namespace payorch::iso20022
