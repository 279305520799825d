// Builders and a harness for invoice core tests: commands as protobuf messages, decided
// one after another against one InvoiceState, every event kept.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "command/invariants.h"
#include "invoice/invoice.h"

namespace payorch::invoice::testing {

using Command = inv::InvoiceCommandEnvelope;
using Event = inv::InvoiceEventEnvelope;

// In tests a breach (an event asking for a transition the table lacks) is fatal.
inline void MakeBreachesFatal() {
  command::SetBreachHandler(+[](std::string_view what) {
    std::fprintf(stderr, "invariant breach: %.*s\n", static_cast<int>(what.size()), what.data());
    std::abort();
  });
}

inline inv::LineItem Item(int64_t quantity, int64_t unit_price_minor, uint32_t tax_rate_bps,
                          std::string product_id = "sku") {
  inv::LineItem item;
  item.set_product_id(std::move(product_id));
  item.set_quantity(quantity);
  item.set_unit_price_minor(unit_price_minor);
  item.set_tax_rate_bps(tax_rate_bps);
  return item;
}

inline inv::CalendarDate Day(int32_t y, uint32_t m, uint32_t d) {
  inv::CalendarDate date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

// `count` installments due on the first of consecutive months from January 2027.
inline inv::InstallmentPlan MonthlyPlan(uint32_t count, std::vector<uint32_t> weights = {}) {
  inv::InstallmentPlan plan;
  plan.set_count(count);
  for (uint32_t i = 0; i < count; ++i) {
    *plan.add_due_dates() = Day(2027 + static_cast<int32_t>(i / 12), 1 + i % 12, 1);
  }
  for (uint32_t w : weights) plan.add_weights(w);
  return plan;
}

inline Command Create(std::string currency, std::vector<inv::LineItem> items, int64_t fee_fixed = 0,
                      uint32_t fee_bps = 0) {
  Command c;
  auto* create = c.mutable_create();
  create->set_merchant_id("m_1");
  create->set_currency(std::move(currency));
  for (auto& item : items) *create->add_line_items() = std::move(item);
  create->mutable_service_fee()->set_fixed_minor(fee_fixed);
  create->mutable_service_fee()->set_rate_bps(fee_bps);
  return c;
}

inline Command WithPlan(Command c, inv::InstallmentPlan plan) {
  *c.mutable_create()->mutable_installment_plan() = std::move(plan);
  return c;
}

inline Command Link(std::string payment_id, uint32_t installment, int64_t amount,
                    std::string currency) {
  Command c;
  auto* l = c.mutable_link_payment();
  l->set_payment_id(std::move(payment_id));
  l->set_installment(installment);
  l->mutable_amount()->set_amount_minor(amount);
  l->mutable_amount()->set_currency(std::move(currency));
  return c;
}

inline Command Succeeded(std::string payment_id, int64_t captured, std::string currency) {
  Command c;
  auto* s = c.mutable_payment_succeeded();
  s->set_payment_id(std::move(payment_id));
  s->mutable_captured()->set_amount_minor(captured);
  s->mutable_captured()->set_currency(std::move(currency));
  return c;
}

inline Command Failed(std::string payment_id, std::string reason = "declined") {
  Command c;
  c.mutable_payment_failed()->set_payment_id(std::move(payment_id));
  c.mutable_payment_failed()->set_reason(std::move(reason));
  return c;
}

inline Command Revise(std::vector<inv::LineItem> items) {
  Command c;
  for (auto& item : items) *c.mutable_revise_line_items()->add_line_items() = std::move(item);
  return c;
}

inline Command Supplementary(std::string id, std::vector<inv::LineItem> items) {
  Command c;
  auto* s = c.mutable_issue_supplementary();
  s->set_supplementary_invoice_id(std::move(id));
  for (auto& item : items) *s->add_line_items() = std::move(item);
  s->set_reason("extra work");
  return c;
}

inline Command Close() {
  Command c;
  c.mutable_close()->set_reason("done");
  return c;
}

inline Command Cancel() {
  Command c;
  c.mutable_cancel()->set_reason("not needed");
  return c;
}

inline const char* EventName(const Event& e) {
  switch (e.event_case()) {
    case Event::kInvoiceCreated:
      return "InvoiceCreated";
    case Event::kLineItemsRevised:
      return "LineItemsRevised";
    case Event::kPaymentLinked:
      return "PaymentLinked";
    case Event::kPaymentReleased:
      return "PaymentReleased";
    case Event::kPaymentApplied:
      return "PaymentApplied";
    case Event::kInstallmentPaid:
      return "InstallmentPaid";
    case Event::kInvoicePaid:
      return "InvoicePaid";
    case Event::kInvoiceOverpaid:
      return "InvoiceOverpaid";
    case Event::kSupplementaryIssued:
      return "SupplementaryIssued";
    case Event::kInvoiceClosed:
      return "InvoiceClosed";
    case Event::kInvoiceCanceled:
      return "InvoiceCanceled";
    case Event::kCommandRejected:
      return "CommandRejected";
    case Event::kCommandDeduplicated:
      return "CommandDeduplicated";
    default:
      return "empty";
  }
}

inline std::vector<std::string> Names(const std::vector<Event>& events) {
  std::vector<std::string> names;
  for (const Event& e : events) names.emplace_back(EventName(e));
  return names;
}

// One invoice, its commands decided in order on partition 0 from offset 100.
class InvoiceHarness {
 public:
  explicit InvoiceHarness(std::string invoice_id = "inv_1", uint64_t epoch = 3)
      : invoice_id_(std::move(invoice_id)), ctx_{epoch} {
    MakeBreachesFatal();
  }

  std::vector<Event> Send(Command c) {
    c.set_schema_version(kSchemaVersion);
    if (c.invoice_id().empty()) c.set_invoice_id(invoice_id_);
    if (c.command_id().empty()) c.set_command_id("cmd-" + std::to_string(offset_));
    c.set_correlation_id("corr-1");
    InvoiceCommandRecord rec{&c, "invoice-commands", 0, offset_, 1'800'000'000'000 + offset_};
    ++offset_;
    std::vector<Event> out;
    DecideAndApply(state_, rec, ctx_, out);
    log_.insert(log_.end(), out.begin(), out.end());
    return out;
  }

  // The reason of the only event, a rejection, or UNSPECIFIED.
  inv::RejectReason Rejection(Command c) {
    auto events = Send(std::move(c));
    if (events.size() != 1 || !events[0].has_command_rejected()) {
      return inv::REJECT_REASON_UNSPECIFIED;
    }
    return events[0].command_rejected().reason();
  }

  const InvoiceState& state() const { return state_; }
  const std::vector<Event>& log() const { return log_; }
  int64_t next_offset() const { return offset_; }

 private:
  std::string invoice_id_;
  InvoiceDecideContext ctx_;
  InvoiceState state_;
  std::vector<Event> log_;
  int64_t offset_ = 100;
};

}  // namespace payorch::invoice::testing
