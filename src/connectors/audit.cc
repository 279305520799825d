#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "connectors/internal/journal.h"
#include "connectors/internal/target_book.h"
#include "connectors/ledger.h"

namespace payorch::connectors {
namespace {

namespace ev = ::payments::events::v1;

std::string KeyPrefix(const std::string& key) { return key.substr(0, key.find(':')); }

}  // namespace

AuditReport AuditLedger(const std::vector<LedgerEntry>& entries) {
  AuditReport report;
  internal::TargetBook book;

  auto payment_of = [&book](const LedgerEntry& e) -> std::string {
    if (!e.payment_id.empty()) return e.payment_id;
    if (!internal::IsCharge(e.kind)) {
      if (const internal::Charge* c = book.Resolve(e.target_reference)) return c->payment_id;
    }
    return KeyPrefix(e.idempotency_key);
  };

  // Charges first, then captures (refunds may name a capture), then voids and refunds:
  // the result does not depend on how entries of several gateways were interleaved.
  auto pass = [&](auto wanted) {
    for (const LedgerEntry& e : entries) {
      if (!wanted(e.kind)) continue;
      const std::string payment = payment_of(e);
      PaymentTotals& totals = report.payments[payment];
      switch (e.kind) {
        case ev::OPERATION_KIND_AUTHORIZE:
          totals.authorized += e.amount_minor;
          ++totals.charges;
          break;
        case ev::OPERATION_KIND_SALE:
          totals.sold += e.amount_minor;
          ++totals.charges;
          break;
        case ev::OPERATION_KIND_CAPTURE:
          totals.captured += e.amount_minor;
          break;
        case ev::OPERATION_KIND_VOID:
          totals.voided += e.amount_minor;
          break;
        case ev::OPERATION_KIND_REFUND:
          totals.refunded += e.amount_minor;
          break;
        default:
          break;
      }
      if (book.Apply(e, payment) == nullptr) {
        report.violations.push_back({"unknown_target", payment,
                                     "key " + e.idempotency_key + " targets '" +
                                         e.target_reference + "', which no charge has"});
      }
    }
  };
  pass([](OperationKind k) { return internal::IsCharge(k); });
  pass([](OperationKind k) { return k == ev::OPERATION_KIND_CAPTURE; });
  pass([](OperationKind k) {
    return k == ev::OPERATION_KIND_VOID || k == ev::OPERATION_KIND_REFUND;
  });

  // Deterministic order: by (payment, step), then reference.
  std::map<std::pair<std::string, uint32_t>, std::map<std::string, const internal::Charge*>>
      by_step;
  for (const auto& [reference, charge] : book.charges()) {
    by_step[{charge.payment_id, charge.step_index}][reference] = &charge;
  }
  for (const auto& [step, charges] : by_step) {
    std::string standing;
    int count = 0;
    for (const auto& [reference, charge] : charges) {
      if (!charge->is_sale() && charge->captured > charge->amount) {
        report.violations.push_back({"capture_exceeds_authorized", step.first,
                                     "authorization " + reference + " of " +
                                         std::to_string(charge->amount) + " has captures of " +
                                         std::to_string(charge->captured)});
      }
      if (charge->refunded > charge->taken()) {
        report.violations.push_back({"refund_exceeds_captured", step.first,
                                     "charge " + reference + " took " +
                                         std::to_string(charge->taken()) + " and refunded " +
                                         std::to_string(charge->refunded)});
      }
      if (charge->standing()) {
        ++count;
        standing += (standing.empty() ? "" : ", ") + charge->key + " (" + reference + ")";
      }
    }
    if (count > 1) {
      report.violations.push_back({"double_charge", step.first,
                                   "step " + std::to_string(step.second) + " charged " +
                                       std::to_string(count) + " times: " + standing});
    }
  }
  return report;
}

StatusOr<std::vector<LedgerEntry>> ReadLedgerFile(const std::string& path) {
  auto records = internal::ReadJournal(path, /*repair=*/false);
  if (!records.ok()) return records.status();
  std::vector<LedgerEntry> entries;
  for (const internal::Record& r : records.value()) {
    if (r.moved_money()) entries.push_back(r.ToLedgerEntry(entries.size() + 1));
  }
  return entries;
}

}  // namespace payorch::connectors
