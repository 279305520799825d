// The simulated processors' ledger of money movements, and its audit.
//
// A LedgerEntry is one successful authorize / sale / capture / void / refund. The audit
// folds entries (from one or many gateways) into per-payment totals and lists every
// breach of "no double charge":
//
//   AuditReport report = AuditLedger(registry.LedgerEntries());
//   for (const AuditViolation& v : report.violations) std::cerr << v.code << " " << v.detail;
//
// Violation codes:
//   "double_charge"               two authorize/sale entries for one (payment, step) under
//                                 different keys, both still standing (not voided, not
//                                 fully refunded)
//   "capture_exceeds_authorized"  captures against one authorization sum above it
//   "refund_exceeds_captured"     refunds against one charge sum above what it took
//   "unknown_target"              a capture/void/refund names a reference no charge has
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "connectors/gateway.h"
#include "connectors/status.h"

namespace payorch::connectors {

struct LedgerEntry {
  uint64_t seq = 0;  // order within its gateway's ledger, 1-based
  OperationKind kind = ::payments::events::v1::OPERATION_KIND_UNSPECIFIED;
  std::string idempotency_key;
  std::string processor_id;
  // As sent in the request; when empty the audit derives it (see PaymentOf).
  std::string payment_id;
  uint32_t step_index = 0;
  int64_t amount_minor = 0;  // amount actually moved
  std::string currency;
  std::string processor_reference;  // of this entry
  std::string target_reference;     // what a capture/void/refund acts on
};

// Per payment: money movements by kind. An authorization counts as charged (the
// customer's funds are held) until voided.
struct PaymentTotals {
  int64_t authorized = 0;
  int64_t sold = 0;
  int64_t captured = 0;
  int64_t voided = 0;
  int64_t refunded = 0;
  int64_t charges = 0;  // number of authorize/sale entries
  // Total charged minus voided and refunded.
  int64_t net() const { return authorized + sold - voided - refunded; }
};

struct AuditViolation {
  std::string code;
  std::string payment_id;
  std::string detail;
};

struct AuditReport {
  std::map<std::string, PaymentTotals> payments;  // by payment id
  std::vector<AuditViolation> violations;
  bool clean() const { return violations.empty(); }
};

// The payment an entry belongs to: its payment_id; else, for a capture/void/refund, the
// payment of the charge it targets; else the key's prefix before the first ':'.
[[nodiscard]] AuditReport AuditLedger(const std::vector<LedgerEntry>& entries);

// Reads the money movements of a ledger file written by a SimulatedGateway (another
// process may have written it). A torn last line is ignored.
[[nodiscard]] StatusOr<std::vector<LedgerEntry>> ReadLedgerFile(const std::string& path);

}  // namespace payorch::connectors
