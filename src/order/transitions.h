// The order status transition table: every edge {from, to, trigger} in one list, in the
// manner of librdkafka's rd_kafka_txn_state_transition_is_valid(). decide() asks
// NextStatus() before it decides a status-changing event (no edge: TRANSITION_NOT_ALLOWED);
// Evolve() asks it again for every such event and reports a breach when it has no edge.
//
//   none ─create─► AWAITING_PAYMENT ─link─► PAYMENT_PENDING ─authorize─► AUTHORIZED
//                    │        ▲                 │        │                   │     │
//                  cancel     └────release──────┘     capture             capture  void
//                    ▼                                   ▼                   ▼     ▼
//                 CANCELED                              PAID ◄──────────────┘  CANCELED
//   PAID ─capture─► PAID;  PAID ─refund─► PARTIALLY_REFUNDED (partial) or REFUNDED (full);
//   PARTIALLY_REFUNDED ─capture|refund (partial)─► itself, ─refund (full)─► REFUNDED.
//
//   if (auto to = order::NextStatus(state.status, OrderTrigger::kLink)) ...
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "payments/orders/v1/orders.pb.h"

namespace payorch::order {

namespace ord = ::payments::orders::v1;

// What moves an order: one per status-changing event (OrderRefunded splits on `full`,
// OrderCanceled on whether a void caused it).
enum class OrderTrigger : uint8_t {
  kCreate,         // OrderCreated
  kLink,           // OrderPaymentLinked
  kRelease,        // OrderPaymentReleased: the payment failed or was canceled
  kAuthorize,      // OrderAuthorized
  kCapture,        // OrderPaid
  kRefundPartial,  // OrderRefunded, full = false
  kRefundFull,     // OrderRefunded, full = true
  kVoid,           // OrderCanceled with a payment_id
  kCancel,         // OrderCanceled by CancelOrder
};
inline constexpr int kTriggerCount = 9;

struct OrderEdge {
  ord::OrderStatus from;
  ord::OrderStatus to;
  OrderTrigger trigger;
};

// The whole table. (from, trigger) is unique: a trigger leads to one status.
inline constexpr std::array<OrderEdge, 14> kOrderEdges = {{
    {ord::ORDER_STATUS_UNSPECIFIED, ord::ORDER_STATUS_AWAITING_PAYMENT, OrderTrigger::kCreate},
    {ord::ORDER_STATUS_AWAITING_PAYMENT, ord::ORDER_STATUS_PAYMENT_PENDING, OrderTrigger::kLink},
    {ord::ORDER_STATUS_AWAITING_PAYMENT, ord::ORDER_STATUS_CANCELED, OrderTrigger::kCancel},
    {ord::ORDER_STATUS_PAYMENT_PENDING, ord::ORDER_STATUS_AWAITING_PAYMENT, OrderTrigger::kRelease},
    {ord::ORDER_STATUS_PAYMENT_PENDING, ord::ORDER_STATUS_AUTHORIZED, OrderTrigger::kAuthorize},
    {ord::ORDER_STATUS_PAYMENT_PENDING, ord::ORDER_STATUS_PAID, OrderTrigger::kCapture},
    {ord::ORDER_STATUS_AUTHORIZED, ord::ORDER_STATUS_PAID, OrderTrigger::kCapture},
    {ord::ORDER_STATUS_AUTHORIZED, ord::ORDER_STATUS_CANCELED, OrderTrigger::kVoid},
    {ord::ORDER_STATUS_PAID, ord::ORDER_STATUS_PAID, OrderTrigger::kCapture},
    {ord::ORDER_STATUS_PAID, ord::ORDER_STATUS_PARTIALLY_REFUNDED, OrderTrigger::kRefundPartial},
    {ord::ORDER_STATUS_PAID, ord::ORDER_STATUS_REFUNDED, OrderTrigger::kRefundFull},
    {ord::ORDER_STATUS_PARTIALLY_REFUNDED, ord::ORDER_STATUS_PARTIALLY_REFUNDED,
     OrderTrigger::kCapture},
    {ord::ORDER_STATUS_PARTIALLY_REFUNDED, ord::ORDER_STATUS_PARTIALLY_REFUNDED,
     OrderTrigger::kRefundPartial},
    {ord::ORDER_STATUS_PARTIALLY_REFUNDED, ord::ORDER_STATUS_REFUNDED, OrderTrigger::kRefundFull},
}};

// The status `trigger` leads to from `from`; std::nullopt when the table has no such edge.
[[nodiscard]] std::optional<ord::OrderStatus> NextStatus(ord::OrderStatus from,
                                                         OrderTrigger trigger);

// Whether {from, to, trigger} is an edge of the table.
[[nodiscard]] bool IsOrderEdge(ord::OrderStatus from, ord::OrderStatus to, OrderTrigger trigger);

// REFUNDED and CANCELED: no edge leaves them.
[[nodiscard]] bool IsTerminalOrderStatus(ord::OrderStatus status);

// The trigger an event is; std::nullopt for CommandRejected, CommandDeduplicated and an
// empty event.
[[nodiscard]] std::optional<OrderTrigger> TriggerOf(const ord::OrderEventEnvelope& event);

// The table as a Mermaid state diagram (one line per {from, to}, labelled with its
// triggers), as src/order/README.md shows it; order_test fails when they differ.
std::string OrderLifecycleDiagram();

const char* OrderStatusName(ord::OrderStatus status);
const char* TriggerName(OrderTrigger trigger);

}  // namespace payorch::order
