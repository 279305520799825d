// CommerceWorkload: the demo's slice of orders and invoices (issue 21), beside the payments
// mix of runtime/workload.h. An upstream service that checks out orders (CreateOrder,
// LinkPayment, then the paying CreatePayment with metadata payorch_order) and bills invoices in
// installments (CreateInvoice with a plan, then per installment a LinkPayment and its
// CreatePayment with metadata payorch_invoice, the next installment once the previous is
// paid); a payment that fails is retried with a new one, at most 3 times per order or
// installment,
// and an observer of the order and invoice events logs that folds them by the validity
// rule. Orders and invoices follow their payments through the saga (runtime/saga.h).
//
//   CommerceWorkload commerce(kafka, {.orders = 200, .invoices = 50, .seed = 7});
//   commerce.Start();              // observer thread
//   commerce.PublishAll();         // orders and first installments
//   commerce.WaitSettled(deadline_ms);
//   CommerceSummary s = commerce.Summary();
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "log/options.h"

namespace payorch::runtime {

struct CommerceOptions {
  int orders = 0;
  int invoices = 0;
  uint64_t seed = 1;
  std::string merchant_id = "m_cobranded";  // accepts USD and MYR by card
  std::string observer_group;               // default: unique per process
};

struct CommerceSummary {
  int64_t orders = 0;
  std::map<std::string, int64_t> orders_by_status;  // "paid", "payment_pending", ...
  int64_t invoices = 0;
  std::map<std::string, int64_t> invoices_by_status;
  int64_t installments = 0;       // in the plans of all invoices
  int64_t installments_paid = 0;  // InstallmentPaid counted
  int64_t rejected = 0;           // CommandRejected of either aggregate
  int64_t order_events = 0;
  int64_t invoice_events = 0;
};

class CommerceWorkload {
 public:
  CommerceWorkload(log::KafkaOptions kafka, CommerceOptions options);
  ~CommerceWorkload();

  // Starts the observer (the order and invoice events logs, from the beginning).
  [[nodiscard]] std::string Start();
  // Appends the orders with their payments, and the invoices with their first installment.
  [[nodiscard]] std::string PublishAll();
  // Until every order is paid, canceled or refunded and every invoice paid (or their payments'
  // retries ran out), or the timeout.
  bool WaitSettled(int timeout_ms);
  void Stop();
  CommerceSummary Summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::runtime
