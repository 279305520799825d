#include "command/lifecycle.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

OperationEffects EffectsOf(const ev::EventEnvelope& e) {
  OperationEffects fx;
  switch (e.event_case()) {
    case ev::EventEnvelope::kStepStarted:
      fx.started = &e.step_started().op();
      break;
    case ev::EventEnvelope::kCaptureStarted:
      fx.started = &e.capture_started().op();
      break;
    case ev::EventEnvelope::kVoidStarted:
      fx.started = &e.void_started().op();
      fx.replaces = e.void_started().op().parent_id();
      break;
    case ev::EventEnvelope::kRefundStarted:
      fx.started = &e.refund_started().op();
      break;
    case ev::EventEnvelope::kStepSucceeded:
      fx.answered = &e.step_succeeded().op();
      fx.payment_busy = true;
      break;
    case ev::EventEnvelope::kStepFailed:
      (e.step_failed().circuit_open() ? fx.skipped : fx.answered) = &e.step_failed().op();
      fx.payment_busy = true;
      break;
    case ev::EventEnvelope::kPaymentProcessing:
      fx.unknown = &e.payment_processing().op();
      fx.payment_busy = true;
      break;
    case ev::EventEnvelope::kProcessingExpired:
      fx.expired = &e.processing_expired().op();
      break;
    case ev::EventEnvelope::kPaymentCaptured:
      fx.answered = &e.payment_captured().op();
      break;
    case ev::EventEnvelope::kCaptureFailed:
      fx.answered = &e.capture_failed().op();
      break;
    case ev::EventEnvelope::kPaymentVoided:
      if (e.payment_voided().has_op()) fx.answered = &e.payment_voided().op();
      break;
    case ev::EventEnvelope::kVoidFailed:
      fx.answered = &e.void_failed().op();
      break;
    case ev::EventEnvelope::kRefundSucceeded:
      fx.answered = &e.refund_succeeded().op();
      break;
    case ev::EventEnvelope::kRefundFailed:
      fx.answered = &e.refund_failed().op();
      break;
    case ev::EventEnvelope::kCommandDeduplicated:
      if (e.command_deduplicated().reconciler_answer()) {
        fx.settled = e.command_deduplicated().original_id();
      }
      break;
    default:  // created, plan, confirmed, completed, failed, canceled, rejections, claims...
      break;
  }
  if (fx.started != nullptr) fx.payment_busy = true;
  return fx;
}

}  // namespace payorch::command
