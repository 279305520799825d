// The order aggregate (issue 21, seed 004): decide(state, command) -> events;
// evolve(state, event) -> state. An order owns its priced line items and follows the
// payment that pays it: payment events become RecordPaymentFact commands (PaymentFactOf).
//
// Pure and deterministic, like the payment core (src/command): no I/O, no clock (time is
// the command record's timestamp), no logging, no threads. Every command yields exactly
// one event; a refusal is a CommandRejected event with a reason, a repeat a
// CommandDeduplicated event. Evolve never fails.
//
//   order::OrderState state;                       // from a cache or a fold of its events
//   std::vector<ord::OrderEventEnvelope> events;
//   order::DecideAndApply(state, record, ctx, events);  // state == fold(old state, events)
//
//   // The saga: a payment event, once the payment core has folded it, becomes a command.
//   if (auto fact = order::PaymentFactOf(payment_event, payment_state.status)) ...
//
// Identifiers: event id "<order_id>/<sequence>", sequence gap-free from 1; a rejection of
// a command whose order does not exist is "cmd/<partition>/<offset>/0" with sequence 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "command/money.h"
#include "order/state.h"
#include "order/transitions.h"
#include "payments/events/v1/events.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::order {

inline constexpr uint32_t kSchemaVersion = 1;
// Limits of a CreateOrder (docs/orders.md).
// The line limits (kMaxLineItems, kMaxLineQuantity, kMaxRateBps) are the core's
// (command/money.h), shared with invoices.

// Payments one order may link over its life (each after the previous one was released).
inline constexpr size_t kMaxPaymentsPerOrder = 10;
inline constexpr size_t kMaxIdLength = 64;          // order_id, merchant_id, payment_id, product_id
inline constexpr size_t kMaxTextLength = 255;       // description, customer_reference, reasons
inline constexpr size_t kMaxCommandIdLength = 128;  // command_id, correlation_id
// The CreatePayment metadata key naming the order a payment pays (the saga follows such
// payments: runtime/saga.h). Not "order_id", which merchants use for their own references.
inline constexpr char kPaymentLinkKey[] = "payorch_order";

// Where a command was read from. Its timestamp is the only clock decide sees.
struct OrderCommandRecord {
  const ord::OrderCommandEnvelope* command = nullptr;
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
};

struct OrderDecideContext {
  uint64_t epoch = 0;  // stamped on every event
};

// The pure form: the events for `record` given `state` (exactly one today).
[[nodiscard]] std::vector<ord::OrderEventEnvelope> Decide(const OrderState& state,
                                                          const OrderCommandRecord& record,
                                                          const OrderDecideContext& ctx);

// Decide(), appending to `out` and applying each event to `state`.
void DecideAndApply(OrderState& state, const OrderCommandRecord& record,
                    const OrderDecideContext& ctx, std::vector<ord::OrderEventEnvelope>& out);

// Applies one event. Never fails: events of another order, and events of sequence 0
// (rejections of commands whose order did not exist), are ignored; an event asking for a
// transition the table lacks leaves the state as it was apart from its sequence, and is
// reported as a breach (command::ReportBreach).
void Evolve(OrderState& state, const ord::OrderEventEnvelope& event);

// What a payment event means for the order paying with it: the RecordPaymentFact the
// saga sends, or std::nullopt when the event means nothing to an order. `status_after` is
// the payment's status once `event` is applied (command::Evolve's PaymentState::status,
// or the projection's): a merchant void is VOIDED only once every step is released.
// Apply command::EpochFilter first: facts come from counted events only.
//
//   PaymentCompleted REQUIRES_CAPTURE -> AUTHORIZED  (authorized total)
//   PaymentCompleted SUCCEEDED        -> CAPTURED    (automatic capture: processed total)
//   PaymentCaptured                   -> CAPTURED    (total_captured_minor)
//   RefundSucceeded                   -> REFUNDED    (total_refunded_minor)
//   PaymentFailed                     -> FAILED
//   PaymentCanceled                   -> CANCELED
//   PaymentVoided, status VOIDED      -> VOIDED
[[nodiscard]] std::optional<ord::RecordPaymentFact> PaymentFactOf(
    const ::payments::events::v1::EventEnvelope& event,
    ::payments::events::v1::PaymentStatus status_after);

// Short name of the command's type: "create", "link_payment", "payment_fact", "cancel",
// "empty".
const char* CommandTypeName(const ord::OrderCommandEnvelope& command);

// The CreateOrder's request hash (32 hex digits): equal for equal requests.
std::string CreateRequestHash(const ord::CreateOrder& create);

}  // namespace payorch::order
