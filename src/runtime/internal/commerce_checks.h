// The checker's rules for the invoice and order logs (docs/invoices.md, docs/orders.md),
// called by runtime::Checker (checker.h), which owns the payments log's rules. Each log is
// read as the payments log is: command::EpochFilter per events partition, events grouped
// by causation offset, one payload per (aggregate id, sequence).
//
//   CommerceChecks commerce;
//   commerce.AddOrderCommand(r); commerce.AddOrderEvent(r);      // commands first, per
//   commerce.AddInvoiceCommand(r); commerce.AddInvoiceEvent(r);  // partition, offset order
//   commerce.AddDeadLetter(r);                                   // any dead letter
//   commerce.Finish(lookup, require_drained, &report);           // lookup: payments log
//   for (auto& v : commerce.TakeViolations()) ...
//
// Rules, each a violation naming its ids when broken:
// - every command has all its events (counted after the epoch rule) or is on the
//   dead-letter topic (payorch.source.* headers); trailing undecided commands are allowed
//   unless `require_drained`;
// - one payload per (aggregate id, sequence), re-published copies identical but for the
//   epoch; sequences gap-free from 1; an aggregate's first event creates it;
// - only edges of the cores' tables (order::NextStatus, invoice::IsInvoiceEdge);
// - an order's captured total is at most its payment's captured total in the payments log
//   (equal with `require_drained`); a paid order's payment SUCCEEDED (or, captured in
//   part, still REQUIRES_CAPTURE);
// - an invoice's applied + overpaid is at most the captured totals of its linked payments
//   (equal with `require_drained`); no installment is paid above its total; a PAID or
//   CLOSED invoice has every installment paid;
// - with `require_drained`: no order PAYMENT_PENDING whose payment is final, and no
//   invoice whose linked payment is final but unrecorded (captured total not recorded,
//   or failed with nothing captured and not released).
// A payment is final when nothing of it is pending and its status is terminal or FAILED.
// The "at most" rules hold on a live log only if the payments log is read after these
// (CheckLog does so): the saga follows the payments log.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "command/state.h"
#include "log/record.h"

namespace payorch::runtime {
struct CheckReport;
}

namespace payorch::runtime::internal {

// The payments log's state of a payment, nullptr when the log does not know it.
using PaymentLookup = std::function<const command::PaymentState*(const std::string& payment_id)>;

class CommerceChecks {
 public:
  CommerceChecks();
  ~CommerceChecks();
  CommerceChecks(const CommerceChecks&) = delete;
  CommerceChecks& operator=(const CommerceChecks&) = delete;

  void AddOrderCommand(const log::Record& record);
  void AddOrderEvent(const log::Record& record);
  void AddInvoiceCommand(const log::Record& record);
  void AddInvoiceEvent(const log::Record& record);
  // A record of the dead-letter topic; those of other topics' commands are ignored.
  void AddDeadLetter(const log::Record& record);

  // Judges everything added; fills report->order_log and report->invoice_log.
  void Finish(const PaymentLookup& payments, bool require_drained, CheckReport* report);
  // The violations found so far, in the order found (at most kMaxKept, then a marker).
  std::vector<std::string> TakeViolations();

  static constexpr size_t kMaxKept = 200;

 private:
  template <class Traits>
  class AggregateLog;
  struct OrderTraits;
  struct InvoiceTraits;

  void Violation(std::string text);

  std::vector<std::string> violations_;
  // (source topic, partition, offset) of dead-lettered commands.
  std::set<std::tuple<std::string, int32_t, int64_t>> dead_letters_;
  std::unique_ptr<AggregateLog<OrderTraits>> orders_;
  std::unique_ptr<AggregateLog<InvoiceTraits>> invoices_;
};

}  // namespace payorch::runtime::internal
