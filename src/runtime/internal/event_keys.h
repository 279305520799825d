// Which gateway operation an event asks for, leaves to the reconciler, or settles, as the
// connectors read the events log. ConnectorLoop uses these for its resume point (a restart
// never resumes past an unanswered call or an op the reconciler still resolves); the
// simulation (tests/simulation) uses the same rules, so it checks the production
// bookkeeping and not a copy of it.
//
//   if (IsStarted(e)) Call(StartedKey(e));
//   if (std::string key = ChasedKey(e); !key.empty()) unknown.emplace(key, offset);
//   if (std::string key = SettledKey(e); !key.empty()) unknown.erase(key);
#pragma once

#include <string>

#include "payments/events/v1/events.pb.h"

namespace payorch::runtime::internal {

// A *Started event: a gateway call to make.
inline bool IsStarted(const ::payments::events::v1::EventEnvelope& e) {
  return e.has_step_started() || e.has_capture_started() || e.has_void_started() ||
         e.has_refund_started();
}

// The operation key a *Started event asks the gateway to execute.
inline const std::string& StartedKey(const ::payments::events::v1::EventEnvelope& e) {
  using Envelope = ::payments::events::v1::EventEnvelope;
  switch (e.event_case()) {
    case Envelope::kStepStarted:
      return e.step_started().op().idempotency_key();
    case Envelope::kCaptureStarted:
      return e.capture_started().op().idempotency_key();
    case Envelope::kVoidStarted:
      return e.void_started().op().idempotency_key();
    default:
      return e.refund_started().op().idempotency_key();
  }
}

// The operation key an event leaves to the reconciler, if any: an unknown outcome
// (PaymentProcessing), or a step an open breaker skipped (that connector sent nothing, but
// another may have sent the key; the Reconciler's chase seals it or finds the charge).
// The connectors' resume point stays at or before this event until SettledKey names the
// key, so a restart, which loses the Reconciler's memory, re-reads it and chases again.
inline std::string ChasedKey(const ::payments::events::v1::EventEnvelope& e) {
  if (e.has_payment_processing()) return e.payment_processing().op().idempotency_key();
  if (e.has_step_failed() && e.step_failed().circuit_open()) {
    return e.step_failed().op().idempotency_key();
  }
  return "";
}

// The operation key an event settles, if any: an answer the core took, the void that
// replaces an authorization whose success came late, or a reconciler's answer that the core
// de-duplicated (the answer for an attempt already resolved, e.g. one whose deadline
// passed while the reconciler kept asking). A call's repeated answer that the core
// de-duplicates settles nothing: while the payment is processing, a second UNKNOWN (a
// duplicate delivery, a repeated call) or an open breaker's skip is taken as a repeat, and
// the op is still the reconciler's. The reconciler's answers are always definite and carry
// the command id "gw/<key>/reconcile/<n>" (connectors/reconciler.h).
inline std::string SettledKey(const ::payments::events::v1::EventEnvelope& e) {
  using Envelope = ::payments::events::v1::EventEnvelope;
  switch (e.event_case()) {
    case Envelope::kStepSucceeded:
      return e.step_succeeded().op().idempotency_key();
    case Envelope::kStepFailed:  // a breaker's skip is chased (ChasedKey), not settled
      return e.step_failed().circuit_open() ? "" : e.step_failed().op().idempotency_key();
    case Envelope::kPaymentCaptured:
      return e.payment_captured().op().idempotency_key();
    case Envelope::kCaptureFailed:
      return e.capture_failed().op().idempotency_key();
    case Envelope::kPaymentVoided:
      return e.payment_voided().op().idempotency_key();
    case Envelope::kVoidFailed:
      return e.void_failed().op().idempotency_key();
    case Envelope::kRefundSucceeded:
      return e.refund_succeeded().op().idempotency_key();
    case Envelope::kRefundFailed:
      return e.refund_failed().op().idempotency_key();
    case Envelope::kCommandDeduplicated:
      return e.command_deduplicated().command_type() == "gateway_result" &&
                     e.causation().command_id().find("/reconcile/") != std::string::npos
                 ? e.command_deduplicated().original_id()
                 : "";
    case Envelope::kVoidStarted:
      return e.void_started().op().parent_id();
    default:
      return "";
  }
}

}  // namespace payorch::runtime::internal
