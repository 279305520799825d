// The payment lifecycle as data: kLifecycle lists every edge {from, to, trigger} a payment's
// status may take, and everything else derives from it: IsValidTransition (what Evolve
// checks, and what decide relies on), and LifecycleDiagram(), the Mermaid diagram in
// src/command/README.md (tests/unit/command/transitions_test.cc fails when they differ).
// Which status an event asks for is PaymentStatusAfter's answer (status.h); this table
// says whether the move is allowed. In the manner of librdkafka's
// rd_kafka_txn_state_transition_is_valid(), but as a list.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

// One edge of the lifecycle: the event `trigger` moves a payment from `from` to `to`. The
// same (from, to) may have several triggers, one entry each.
struct Transition {
  ::payments::events::v1::PaymentStatus from;
  ::payments::events::v1::PaymentStatus to;
  ::payments::events::v1::EventEnvelope::EventCase trigger;
};

namespace lifecycle_internal {
namespace ev = ::payments::events::v1;
inline constexpr auto kNone = ev::PAYMENT_STATUS_UNSPECIFIED;
inline constexpr auto kRequiresConfirmation = ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
inline constexpr auto kAuthorizing = ev::PAYMENT_STATUS_AUTHORIZING;
inline constexpr auto kProcessing = ev::PAYMENT_STATUS_PROCESSING;
inline constexpr auto kRequiresCapture = ev::PAYMENT_STATUS_REQUIRES_CAPTURE;
inline constexpr auto kSucceeded = ev::PAYMENT_STATUS_SUCCEEDED;
inline constexpr auto kFailed = ev::PAYMENT_STATUS_FAILED;
inline constexpr auto kCanceled = ev::PAYMENT_STATUS_CANCELED;
inline constexpr auto kVoided = ev::PAYMENT_STATUS_VOIDED;
using E = ev::EventEnvelope;
}  // namespace lifecycle_internal

// Every change of status a payment may make (staying put is always allowed: events such
// as RefundSucceeded leave the status as it is).
inline constexpr std::array<Transition, 16> kLifecycle = [] {
  using namespace lifecycle_internal;  // NOLINT(google-build-using-namespace)
  return std::array<Transition, 16>{{
      {kNone, kRequiresConfirmation, E::kPaymentCreated},
      {kRequiresConfirmation, kAuthorizing, E::kStepStarted},
      {kRequiresConfirmation, kCanceled, E::kPaymentCanceled},
      {kAuthorizing, kProcessing, E::kPaymentProcessing},
      // The late answer of an attempt whose outcome was unknown resumes the plan.
      {kProcessing, kAuthorizing, E::kStepSucceeded},
      {kProcessing, kAuthorizing, E::kStepFailed},
      {kAuthorizing, kRequiresCapture, E::kPaymentCompleted},
      {kProcessing, kRequiresCapture, E::kPaymentCompleted},
      {kAuthorizing, kSucceeded, E::kPaymentCompleted},
      {kProcessing, kSucceeded, E::kPaymentCompleted},
      {kRequiresCapture, kSucceeded, E::kPaymentCaptured},
      {kAuthorizing, kFailed, E::kPaymentFailed},
      {kProcessing, kFailed, E::kPaymentFailed},
      {kRequiresCapture, kVoided, E::kPaymentVoided},
      // A plan that failed with nothing processed waits for another payment method: a
      // confirm with one builds a new plan (Stripe's requires_payment_method), or a cancel.
      {kFailed, kRequiresConfirmation, E::kPlanBuilt},
      {kFailed, kCanceled, E::kPaymentCanceled},
  }};
}();

// The lifecycle as a Mermaid state diagram: one line per (from, to) of kLifecycle, in
// order, labelled with its triggers' event names, then the terminal statuses.
std::string LifecycleDiagram();

// True if a payment may move from `from` to `to` (by any trigger). Staying in the same
// status is valid (events such as RefundSucceeded leave the status as it is).
bool IsValidTransition(::payments::events::v1::PaymentStatus from,
                       ::payments::events::v1::PaymentStatus to);

// True if the event `trigger` may move a payment from `from` to `to`: what Evolve checks.
bool IsValidTransition(::payments::events::v1::PaymentStatus from,
                       ::payments::events::v1::PaymentStatus to,
                       ::payments::events::v1::EventEnvelope::EventCase trigger);

// No edge of kLifecycle leaves it: SUCCEEDED, CANCELED, VOIDED (derived). FAILED is not
// terminal: see AwaitsPaymentMethod.
bool IsTerminalStatus(::payments::events::v1::PaymentStatus status);

const char* StatusName(::payments::events::v1::PaymentStatus status);

// A FAILED payment that processed nothing (every step declined or failed; late successes
// are compensated, not counted) waits for the merchant: a confirm with a payment method
// tries again on the same payment, a cancel ends it. A FAILED payment that processed part
// of its amount (a split plan whose later step failed; the part was reversed) stays
// FAILED for good. The core, the checker and the merchant API's `requires_payment_method`
// decide it here; `processed` is the state's processed, the view's authorized_minor.
constexpr bool AwaitsPaymentMethod(::payments::events::v1::PaymentStatus status,
                                   int64_t processed) {
  return status == ::payments::events::v1::PAYMENT_STATUS_FAILED && processed == 0;
}

// Steps a payment's plan may hold, counting the plans of every payment method tried: a
// confirm with another payment method beyond it is refused.
inline constexpr size_t kMaxPlanSteps = 32;

// Whether a successful void releases money the payment counted: a void the merchant asked
// for (no parent attempt) does, and so does the compensation of a success the payment
// counted; the compensation of a late success reverses money the payment never counted.
// The core's ledger and every read model decide it here.
constexpr bool VoidReleasesCountedMoney(bool has_parent, bool parent_succeeded) {
  return !has_parent || parent_succeeded;
}

}  // namespace payorch::command
