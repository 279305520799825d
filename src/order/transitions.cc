#include "order/transitions.h"

#include <string_view>
#include <vector>

#include "command/state_diagram.h"

namespace payorch::order {

std::optional<ord::OrderStatus> NextStatus(ord::OrderStatus from, OrderTrigger trigger) {
  for (const OrderEdge& edge : kOrderEdges) {
    if (edge.from == from && edge.trigger == trigger) return edge.to;
  }
  return std::nullopt;
}

bool IsOrderEdge(ord::OrderStatus from, ord::OrderStatus to, OrderTrigger trigger) {
  for (const OrderEdge& edge : kOrderEdges) {
    if (edge.from == from && edge.to == to && edge.trigger == trigger) return true;
  }
  return false;
}

bool IsTerminalOrderStatus(ord::OrderStatus status) {
  for (const OrderEdge& edge : kOrderEdges) {
    if (edge.from == status) return false;
  }
  return status != ord::ORDER_STATUS_UNSPECIFIED;
}

std::optional<OrderTrigger> TriggerOf(const ord::OrderEventEnvelope& event) {
  switch (event.event_case()) {
    case ord::OrderEventEnvelope::kOrderCreated:
      return OrderTrigger::kCreate;
    case ord::OrderEventEnvelope::kPaymentLinked:
      return OrderTrigger::kLink;
    case ord::OrderEventEnvelope::kPaymentReleased:
      return OrderTrigger::kRelease;
    case ord::OrderEventEnvelope::kOrderAuthorized:
      return OrderTrigger::kAuthorize;
    case ord::OrderEventEnvelope::kOrderPaid:
      return OrderTrigger::kCapture;
    case ord::OrderEventEnvelope::kOrderRefunded:
      return event.order_refunded().full() ? OrderTrigger::kRefundFull
                                           : OrderTrigger::kRefundPartial;
    case ord::OrderEventEnvelope::kOrderCanceled:
      return event.order_canceled().payment_id().empty() ? OrderTrigger::kCancel
                                                         : OrderTrigger::kVoid;
    default:  // CommandRejected, CommandDeduplicated, nothing
      return std::nullopt;
  }
}

std::string OrderLifecycleDiagram() {
  std::vector<command::DiagramEdge> edges;
  edges.reserve(kOrderEdges.size());
  for (const OrderEdge& edge : kOrderEdges) {
    edges.push_back({edge.from == ord::ORDER_STATUS_UNSPECIFIED ? "" : OrderStatusName(edge.from),
                     OrderStatusName(edge.to), TriggerName(edge.trigger)});
  }
  std::vector<std::string_view> terminal;
  for (int v = ord::OrderStatus_MIN; v <= ord::OrderStatus_MAX; ++v) {
    const auto status = static_cast<ord::OrderStatus>(v);
    if (ord::OrderStatus_IsValid(v) && IsTerminalOrderStatus(status)) {
      terminal.push_back(OrderStatusName(status));
    }
  }
  return command::MermaidStateDiagram(edges, terminal);
}

const char* OrderStatusName(ord::OrderStatus status) {
  switch (status) {
    case ord::ORDER_STATUS_UNSPECIFIED:
      return "none";
    case ord::ORDER_STATUS_AWAITING_PAYMENT:
      return "awaiting_payment";
    case ord::ORDER_STATUS_PAYMENT_PENDING:
      return "payment_pending";
    case ord::ORDER_STATUS_AUTHORIZED:
      return "authorized";
    case ord::ORDER_STATUS_PAID:
      return "paid";
    case ord::ORDER_STATUS_PARTIALLY_REFUNDED:
      return "partially_refunded";
    case ord::ORDER_STATUS_REFUNDED:
      return "refunded";
    case ord::ORDER_STATUS_CANCELED:
      return "canceled";
    default:
      return "unknown";
  }
}

const char* TriggerName(OrderTrigger trigger) {
  switch (trigger) {
    case OrderTrigger::kCreate:
      return "create";
    case OrderTrigger::kLink:
      return "link";
    case OrderTrigger::kRelease:
      return "release";
    case OrderTrigger::kAuthorize:
      return "authorize";
    case OrderTrigger::kCapture:
      return "capture";
    case OrderTrigger::kRefundPartial:
      return "refund_partial";
    case OrderTrigger::kRefundFull:
      return "refund_full";
    case OrderTrigger::kVoid:
      return "void";
    case OrderTrigger::kCancel:
      return "cancel";
  }
  return "unknown";
}

}  // namespace payorch::order
