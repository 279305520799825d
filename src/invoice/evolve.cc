// Evolve: one short function per event. Trusts the events (decide checked everything);
// the one check is the status table, for every status-changing event.
#include <string>

#include "command/invariants.h"
#include "invoice/internal/proto.h"
#include "invoice/invoice.h"

namespace payorch::invoice {
namespace {

void OnCreated(InvoiceState& s, const inv::InvoiceEventEnvelope& e) {
  const inv::InvoiceCreated& c = e.invoice_created();
  s.invoice_id = e.invoice_id();
  s.merchant_id = e.merchant_id();
  s.currency = c.currency();
  s.customer_reference = c.customer_reference();
  s.supplements_invoice_id = c.supplements_invoice_id();
  s.request_hash = c.request_hash();
  s.lines = internal::ReadLines(c.line_items());
  s.fee = {c.service_fee().fixed_minor(), c.service_fee().rate_bps()};
  if (c.has_installment_plan()) {
    s.plan = internal::ToPlan(c.installment_plan());
  } else {
    s.plan.reset();
  }
  if (c.has_due_date()) {
    s.due_date = internal::ToDate(c.due_date());
  } else {
    s.due_date.reset();
  }
  s.totals = internal::ReadTotals(c.totals());
  s.installments = internal::ReadSchedule(c.installments());
}

void OnRevised(InvoiceState& s, const inv::LineItemsRevised& r) {
  s.lines = internal::ReadLines(r.line_items());
  s.totals = internal::ReadTotals(r.totals());
  s.installments = internal::ReadSchedule(r.installments());
}

InstallmentState* Installment(InvoiceState& s, uint32_t number) {
  if (number < 1 || number > s.installments.size()) return nullptr;
  return &s.installments[number - 1];
}

void OnLinked(InvoiceState& s, const inv::PaymentLinked& l) {
  LinkedPayment p;
  p.payment_id = l.payment_id();
  p.installment = l.installment();
  p.amount_minor = l.amount_minor();
  s.payments.push_back(std::move(p));
}

void OnReleased(InvoiceState& s, const inv::PaymentReleased& r) {
  if (LinkedPayment* p = s.FindPayment(r.payment_id())) p->released = true;
}

void OnApplied(InvoiceState& s, const inv::PaymentApplied& a) {
  if (LinkedPayment* p = s.FindPayment(a.payment_id())) {
    p->captured_minor = a.captured_total_minor();
    p->applied_minor += a.applied_minor();
  }
  if (InstallmentState* i = Installment(s, a.installment())) i->paid_minor += a.applied_minor();
  s.paid_minor += a.applied_minor();
}

void OnInstallmentPaid(InvoiceState& s, const inv::InstallmentPaid& p) {
  if (InstallmentState* i = Installment(s, p.installment())) i->paid = true;
}

void OnOverpaid(InvoiceState& s, const inv::InvoiceOverpaid& o) {
  if (LinkedPayment* p = s.FindPayment(o.payment_id()))
    p->captured_minor = o.captured_total_minor();
  s.overpaid_minor = o.total_overpaid_minor();
}

void OnSupplementary(InvoiceState& s, const inv::SupplementaryIssued& i) {
  s.supplementaries.push_back({i.supplementary_invoice_id(), i.request_hash()});
}

}  // namespace

void Evolve(InvoiceState& s, const inv::InvoiceEventEnvelope& e) {
  if (e.sequence() == 0) return;  // a rejection outside any invoice
  const bool creates = e.event_case() == inv::InvoiceEventEnvelope::kInvoiceCreated;
  if (s.Exists() ? e.invoice_id() != s.invoice_id : !creates) return;
  s.sequence = e.sequence();
  if (creates && s.Exists()) {
    command::ReportBreach("invoice " + s.invoice_id + ": InvoiceCreated for an existing invoice");
    return;
  }
  if (auto to = StatusAfter(s.status, e); to && *to != s.status) {
    if (!IsInvoiceEdge(s.status, *to)) {
      command::ReportBreach("invoice " + e.invoice_id() + ": no transition " +
                            InvoiceStatusName(s.status) + " -> " + InvoiceStatusName(*to));
      return;
    }
    s.status = *to;
  }
  switch (e.event_case()) {
    case inv::InvoiceEventEnvelope::kInvoiceCreated:
      return OnCreated(s, e);
    case inv::InvoiceEventEnvelope::kLineItemsRevised:
      return OnRevised(s, e.line_items_revised());
    case inv::InvoiceEventEnvelope::kPaymentLinked:
      return OnLinked(s, e.payment_linked());
    case inv::InvoiceEventEnvelope::kPaymentReleased:
      return OnReleased(s, e.payment_released());
    case inv::InvoiceEventEnvelope::kPaymentApplied:
      return OnApplied(s, e.payment_applied());
    case inv::InvoiceEventEnvelope::kInstallmentPaid:
      return OnInstallmentPaid(s, e.installment_paid());
    case inv::InvoiceEventEnvelope::kInvoiceOverpaid:
      return OnOverpaid(s, e.invoice_overpaid());
    case inv::InvoiceEventEnvelope::kSupplementaryIssued:
      return OnSupplementary(s, e.supplementary_issued());
    case inv::InvoiceEventEnvelope::kInvoiceClosed:
      s.close_reason = e.invoice_closed().reason();
      return;
    case inv::InvoiceEventEnvelope::kInvoiceCanceled:
      s.cancel_reason = e.invoice_canceled().reason();
      return;
    default:  // InvoicePaid (its status only), CommandRejected, CommandDeduplicated
      return;
  }
}

}  // namespace payorch::invoice
