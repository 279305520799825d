// InvoiceState: what the invoice aggregate knows about one invoice, folded from its
// events. Plain data, no protobuf messages inside; only Evolve() (invoice.h) changes it.
//
//   InvoiceState s;                        // empty: the invoice does not exist yet
//   for (const auto& e : events) invoice::Evolve(s, e);
//   if (s.status == inv::INVOICE_STATUS_PAID) ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "command/money.h"
#include "invoice/schedule.h"

namespace payorch::invoice {

// A line item as sent, with its price (PricedLineItem).
using InvoiceLine = ::payorch::PricedLineItem;  // command/money.h, shared

struct InstallmentState {
  ScheduledInstallment row;
  int64_t paid_minor = 0;  // applied so far; row.columns.total_minor() once paid
  bool paid = false;
  int64_t total_minor() const { return row.columns.total_minor(); }
  int64_t outstanding_minor() const { return total_minor() - paid_minor; }
  bool operator==(const InstallmentState&) const = default;
};

// A payment linked to an installment, pending or not.
struct LinkedPayment {
  std::string payment_id;
  uint32_t installment = 0;
  int64_t amount_minor = 0;
  int64_t captured_minor = 0;  // the latest captured total recorded
  int64_t applied_minor = 0;   // counted against its installment
  bool released = false;       // PaymentReleased: failed before capturing anything
  // Pending: the installment's payment in flight. Linked, not released, not yet captured
  // in full, and its installment not paid.
  bool operator==(const LinkedPayment&) const = default;
};

struct SupplementaryRecord {
  std::string supplementary_invoice_id;
  std::string request_hash;
  bool operator==(const SupplementaryRecord&) const = default;
};

struct InvoiceState {
  std::string invoice_id;  // set by InvoiceCreated
  std::string merchant_id;
  std::string currency;
  std::string customer_reference;
  std::string supplements_invoice_id;
  std::string request_hash;  // of the CreateInvoice, for de-duplication
  ::payments::invoices::v1::InvoiceStatus status =
      ::payments::invoices::v1::INVOICE_STATUS_UNSPECIFIED;
  uint64_t sequence = 0;  // of the last event applied; the next event is sequence + 1
  std::vector<InvoiceLine> lines;
  Fee fee;
  std::optional<Plan> plan;
  std::optional<Date> due_date;  // of a single-payment invoice
  Columns totals;
  std::vector<InstallmentState> installments;
  std::vector<LinkedPayment> payments;  // every payment ever linked, oldest first
  std::vector<SupplementaryRecord> supplementaries;
  int64_t paid_minor = 0;      // applied to installments, all of them
  int64_t overpaid_minor = 0;  // recorded by InvoiceOverpaid, never applied
  std::string close_reason;
  std::string cancel_reason;

  bool Exists() const { return status != ::payments::invoices::v1::INVOICE_STATUS_UNSPECIFIED; }
  // The first PaymentLinked freezes the line items for good.
  bool Frozen() const { return !payments.empty(); }
  int64_t total_minor() const { return totals.total_minor(); }

  const LinkedPayment* FindPayment(std::string_view id) const {
    for (const LinkedPayment& p : payments) {
      if (p.payment_id == id) return &p;
    }
    return nullptr;
  }
  LinkedPayment* FindPayment(std::string_view id) {
    return const_cast<LinkedPayment*>(std::as_const(*this).FindPayment(id));
  }
  bool IsPending(const LinkedPayment& p) const {
    return !p.released && p.captured_minor < p.amount_minor && p.installment >= 1 &&
           p.installment <= installments.size() && !installments[p.installment - 1].paid;
  }
  // The pending payment of installment `number` (1-based), or nullptr.
  const LinkedPayment* PendingPaymentOf(uint32_t number) const {
    for (const LinkedPayment& p : payments) {
      if (p.installment == number && IsPending(p)) return &p;
    }
    return nullptr;
  }
  bool AllPaid() const {
    if (installments.empty()) return false;
    for (const InstallmentState& i : installments) {
      if (!i.paid) return false;
    }
    return true;
  }
  bool operator==(const InvoiceState&) const = default;
};

}  // namespace payorch::invoice
