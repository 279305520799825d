// evolve for the order aggregate: every status change goes through the table.
#include <string>

#include "command/invariants.h"
#include "order/order.h"

namespace payorch::order {

namespace {

void ApplyCreated(OrderState& s, const ord::OrderEventEnvelope& e) {
  const ord::OrderCreated& c = e.order_created();
  s.order_id = e.order_id();
  s.merchant_id = e.merchant_id();
  s.currency = c.totals().currency();
  s.customer_reference = c.customer_reference();
  s.request_hash = c.request_hash();
  s.lines.clear();
  s.lines.reserve(static_cast<size_t>(c.line_items_size()));
  for (const ord::PricedOrderLine& p : c.line_items()) {
    OrderLine& line = s.lines.emplace_back();
    line.product_id = p.item().product_id();
    line.description = p.item().description();
    line.quantity = p.item().quantity();
    line.unit_price_minor = p.item().unit_price_minor();
    line.tax_rate_bps = p.item().tax_rate_bps();
    line.net_minor = p.net_minor();
    line.tax_minor = p.tax_minor();
  }
  s.subtotal_minor = c.totals().subtotal_minor();
  s.tax_minor = c.totals().tax_minor();
  s.total_minor = c.totals().total_minor();
}

void ApplyFields(OrderState& s, const ord::OrderEventEnvelope& e) {
  switch (e.event_case()) {
    case ord::OrderEventEnvelope::kOrderCreated:
      ApplyCreated(s, e);
      break;
    case ord::OrderEventEnvelope::kPaymentLinked:
      s.payment_id = e.payment_linked().payment_id();
      s.payments.push_back({e.payment_linked().payment_id(), e.payment_linked().amount_minor()});
      s.authorized_minor = 0;
      s.captured_minor = 0;
      s.refunded_minor = 0;
      break;
    case ord::OrderEventEnvelope::kPaymentReleased:
      s.payment_id.clear();
      s.authorized_minor = 0;
      break;
    case ord::OrderEventEnvelope::kOrderAuthorized:
      s.authorized_minor = e.order_authorized().authorized_minor();
      break;
    case ord::OrderEventEnvelope::kOrderPaid:
      s.captured_minor = e.order_paid().captured_minor();
      break;
    case ord::OrderEventEnvelope::kOrderRefunded:
      s.refunded_minor = e.order_refunded().refunded_minor();
      break;
    case ord::OrderEventEnvelope::kOrderCanceled:
      s.cancel_reason = e.order_canceled().reason();
      break;
    default:
      break;
  }
}

}  // namespace

void Evolve(OrderState& s, const ord::OrderEventEnvelope& e) {
  if (e.sequence() == 0) return;  // a rejection of a command whose order did not exist
  if (s.order_id.empty() ? e.event_case() != ord::OrderEventEnvelope::kOrderCreated
                         : e.order_id() != s.order_id) {
    return;
  }
  s.sequence = e.sequence();
  const std::optional<OrderTrigger> trigger = TriggerOf(e);
  if (!trigger) return;  // CommandRejected, CommandDeduplicated
  const std::optional<ord::OrderStatus> to = NextStatus(s.status, *trigger);
  if (!to) {
    command::ReportBreach("order " + e.order_id() + ": event " + e.event_id() + " (" +
                          TriggerName(*trigger) + ") has no edge from " +
                          OrderStatusName(s.status));
    return;
  }
  ApplyFields(s, e);
  s.status = *to;
}

}  // namespace payorch::order
