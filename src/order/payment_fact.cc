// The saga's pure mapping: a payment event to the RecordPaymentFact the order receives.
#include "command/status.h"
#include "order/order.h"

namespace payorch::order {

namespace ev = ::payments::events::v1;

std::optional<ord::RecordPaymentFact> PaymentFactOf(const ev::EventEnvelope& event,
                                                    ev::PaymentStatus status_after) {
  if (event.payment_id().empty() || event.sequence() == 0) return std::nullopt;
  ord::RecordPaymentFact fact;
  switch (event.event_case()) {
    case ev::EventEnvelope::kPaymentCompleted: {
      const ev::PaymentCompleted& pc = event.payment_completed();
      if (pc.status() == ev::PAYMENT_STATUS_REQUIRES_CAPTURE) {
        fact.set_kind(ord::PAYMENT_FACT_KIND_AUTHORIZED);
      } else if (pc.status() == ev::PAYMENT_STATUS_SUCCEEDED) {
        fact.set_kind(ord::PAYMENT_FACT_KIND_CAPTURED);  // automatic capture
      } else {
        return std::nullopt;
      }
      fact.set_amount_minor(pc.result().total_processed_minor());
      break;
    }
    case ev::EventEnvelope::kPaymentCaptured:
      fact.set_kind(ord::PAYMENT_FACT_KIND_CAPTURED);
      fact.set_amount_minor(event.payment_captured().total_captured_minor());
      break;
    case ev::EventEnvelope::kRefundSucceeded:
      fact.set_kind(ord::PAYMENT_FACT_KIND_REFUNDED);
      fact.set_amount_minor(event.refund_succeeded().total_refunded_minor());
      break;
    case ev::EventEnvelope::kPaymentFailed:
      fact.set_kind(ord::PAYMENT_FACT_KIND_FAILED);
      fact.set_detail(event.payment_failed().reason());
      break;
    case ev::EventEnvelope::kPaymentCanceled:
      fact.set_kind(ord::PAYMENT_FACT_KIND_CANCELED);
      fact.set_detail(event.payment_canceled().reason());
      break;
    case ev::EventEnvelope::kPaymentVoided:
      if (!command::VoidsPayment(event, status_after)) return std::nullopt;
      fact.set_kind(ord::PAYMENT_FACT_KIND_VOIDED);
      fact.set_detail(event.payment_voided().reason());
      break;
    default:  // operations started or answered, rejections, claims: no outcome yet
      return std::nullopt;
  }
  fact.set_payment_id(event.payment_id());
  fact.set_payment_sequence(event.sequence());
  return fact;
}

}  // namespace payorch::order
