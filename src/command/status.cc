// PaymentStatusAfter and the core's StatusFacts (status.h).
#include "command/status.h"

#include "command/internal/payment_edit.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

std::optional<ev::PaymentStatus> PaymentStatusAfter(ev::PaymentStatus before,
                                                    const ev::EventEnvelope& event,
                                                    const StatusFacts& facts) {
  using E = ev::EventEnvelope;
  switch (event.event_case()) {
    case E::kPaymentCreated:
      if (before != ev::PAYMENT_STATUS_UNSPECIFIED) return std::nullopt;
      return ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
    case E::kPlanBuilt:  // confirmed again with another payment method
      if (before != ev::PAYMENT_STATUS_FAILED) return std::nullopt;
      return ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION;
    case E::kStepStarted:
    case E::kStepSucceeded:
    case E::kStepFailed:
      return ev::PAYMENT_STATUS_AUTHORIZING;
    case E::kPaymentProcessing:
      if (!internal::IsAuthorization(event.payment_processing().op().kind())) return std::nullopt;
      return ev::PAYMENT_STATUS_PROCESSING;
    case E::kPaymentCompleted:
      return event.payment_completed().status();
    case E::kPaymentFailed:
      return ev::PAYMENT_STATUS_FAILED;
    case E::kPaymentCaptured:
      if (!CaptureCompletesPayment(facts.captures_in_flight, facts.final_capture,
                                   facts.capturable_left)) {
        return std::nullopt;
      }
      return ev::PAYMENT_STATUS_SUCCEEDED;
    case E::kPaymentVoided: {
      const ev::PaymentVoided& pv = event.payment_voided();
      if (!pv.has_op()) return ev::PAYMENT_STATUS_VOIDED;
      // A compensation reverses a late success or a failed plan's step: the payment stays.
      if (pv.compensation()) return std::nullopt;
      if (!VoidCompletesPayment(facts.voids_in_flight, facts.every_step_released)) {
        return std::nullopt;
      }
      return ev::PAYMENT_STATUS_VOIDED;
    }
    case E::kPaymentCanceled:
      return ev::PAYMENT_STATUS_CANCELED;
    default:  // operations started or answered without a status change, rejections, claims
      return std::nullopt;
  }
}

StatusFacts StatusFactsOf(const PaymentState& s, const ev::EventEnvelope& event) {
  StatusFacts f;
  if (!StatusNeedsFacts(event.event_case())) return f;
  f.captures_in_flight = internal::HasPendingKind(s, ev::OPERATION_KIND_CAPTURE);
  f.voids_in_flight = internal::HasPendingKind(s, ev::OPERATION_KIND_VOID);
  f.capturable_left = internal::Capturable(s);
  // A requested void comes only before any capture (decide_money.cc), so nothing left
  // capturable means every authorized step is voided.
  f.every_step_released = f.capturable_left == 0;
  if (event.has_payment_captured()) {
    for (const KeyedRequest& c : s.captures) {
      if (c.id == event.payment_captured().capture_id()) f.final_capture = c.final_capture;
    }
  }
  return f;
}

}  // namespace payorch::command
