// The payment status after each event: the one definition. The core's Evolve and the
// projection's view both ask PaymentStatusAfter for the status an event moves a payment to;
// neither keeps its own list of event cases. Where the answer depends on more than the
// status before (a capture's or a void's answer), the reader says what it knows in a
// StatusFacts, filled from its own state: the core from PaymentState (StatusFactsOf below),
// the projection from its PaymentView (projection::ViewStatusFacts).
//
//   const ev::PaymentStatus before = s.status;
//   ... the event's bookkeeping (operations, money) ...
//   if (auto to = PaymentStatusAfter(before, event, StatusFactsOf(s, event))) {
//     if (IsValidTransition(before, *to, event.event_case())) s.status = *to;  // else: a breach
//   }
//
// Whether a move is allowed is the lifecycle table's question (transitions.h): an answer
// with no edge is an invariant breach in the core (invariants.h). Pure: no state.
#pragma once

#include <cstdint>
#include <optional>

#include "command/state.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::command {

// What the status after a capture's or a void's answer depends on, besides the status
// before. Read after the event's own bookkeeping: its operation is no longer in flight, its
// money is counted (captured, released). Other events read no fact.
struct StatusFacts {
  bool captures_in_flight = false;   // another capture started and not answered
  bool final_capture = false;        // the answered capture was the merchant's final one
  int64_t capturable_left = 0;       // authorized, neither captured nor released
  bool voids_in_flight = false;      // another void started and not answered
  bool every_step_released = false;  // every step that authorized money is voided
  bool operator==(const StatusFacts&) const = default;
};

// True for the events whose status after depends on StatusFacts (PaymentCaptured,
// PaymentVoided): a reader may leave the facts empty for every other event.
[[nodiscard]] constexpr bool StatusNeedsFacts(::payments::events::v1::EventEnvelope::EventCase c) {
  return c == ::payments::events::v1::EventEnvelope::kPaymentCaptured ||
         c == ::payments::events::v1::EventEnvelope::kPaymentVoided;
}

// The status `event` moves a payment in status `before` to; std::nullopt when the event
// leaves the status as it is. Whether the move is allowed is IsValidTransition's question.
//
//   PaymentCreated     REQUIRES_CONFIRMATION (from none; a repeat changes nothing)
//   PlanBuilt          REQUIRES_CONFIRMATION from FAILED (another payment method)
//   StepStarted, StepSucceeded, StepFailed   AUTHORIZING
//   PaymentProcessing  PROCESSING, for an authorization or sale (not a capture's, ...)
//   PaymentCompleted   its status (REQUIRES_CAPTURE or SUCCEEDED)
//   PaymentFailed      FAILED
//   PaymentCaptured    SUCCEEDED when CaptureCompletesPayment
//   PaymentVoided      VOIDED without an operation; not for a compensation; else when
//                      VoidCompletesPayment
//   PaymentCanceled    CANCELED
//   anything else      no change
[[nodiscard]] std::optional<::payments::events::v1::PaymentStatus> PaymentStatusAfter(
    ::payments::events::v1::PaymentStatus before,
    const ::payments::events::v1::EventEnvelope& event, const StatusFacts& facts);

// The core's facts: `s` is the state after `event`'s bookkeeping (Evolve calls it last).
// Empty for an event that needs none (StatusNeedsFacts).
[[nodiscard]] StatusFacts StatusFactsOf(const PaymentState& s,
                                        const ::payments::events::v1::EventEnvelope& event);

// When a capture's answer makes the payment SUCCEEDED: no other capture in flight, and it
// was the merchant's final capture or nothing capturable is left.
constexpr bool CaptureCompletesPayment(bool captures_in_flight, bool final_capture,
                                       int64_t capturable_left) {
  return !captures_in_flight && (final_capture || capturable_left <= 0);
}

// When a requested void's answer makes the payment VOIDED: no other void in flight and
// every authorized step released (if another step's void failed, the payment stays
// capturable and may be voided again).
constexpr bool VoidCompletesPayment(bool voids_in_flight, bool every_step_released) {
  return !voids_in_flight && every_step_released;
}

// Whether `event` voided the payment, given its status right after: a PaymentVoided after
// which the payment is VOIDED. One step's release of a split payment, or a compensation,
// leaves the payment where it was: readers that report outcomes (the saga's facts, the
// merchant's `payment.voided` webhook) report a void only when this holds.
inline bool VoidsPayment(const ::payments::events::v1::EventEnvelope& event,
                         ::payments::events::v1::PaymentStatus status_after) {
  return event.has_payment_voided() &&
         status_after == ::payments::events::v1::PAYMENT_STATUS_VOIDED;
}

}  // namespace payorch::command
