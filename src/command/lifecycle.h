// What an event does to the payment's gateway operations: the one definition every reader
// of the events log uses (connectors and their resume point, the reconciler, the merchant
// API's "is this answer final" rule, the simulation). The core decides these events; this
// says what each means for an operation, so no reader keeps its own list of event cases.
//
//   const command::OperationEffects fx = command::EffectsOf(event);
//   if (fx.started) Call(*fx.started);                       // a gateway call to make
//   if (fx.answered) Forget(fx.answered->idempotency_key());  // the core took its answer
//   if (fx.unknown || fx.skipped) Chase(...);                 // the reconciler's
//
// Pure: no state. Pointers point into `event` and live as long as it does.
#pragma once

#include <string_view>

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

// RecordGatewayResult.source of the reconciler's answers (connectors/reconciler.h).
inline constexpr std::string_view kReconcilerSource = "reconcile";

struct OperationEffects {
  // A *Started event (StepStarted, CaptureStarted, VoidStarted, RefundStarted): a call to
  // make.
  const ::payments::events::v1::GatewayOperation* started = nullptr;
  // A definite answer the core took for this operation (success or failure; not a skip).
  const ::payments::events::v1::GatewayOperation* answered = nullptr;
  // PaymentProcessing: the outcome is unknown, the reconciler asks the processor.
  const ::payments::events::v1::GatewayOperation* unknown = nullptr;
  // StepFailed with circuit_open: an open breaker skipped the attempt. This connector sent
  // nothing, but another may have sent the key: the reconciler chases it.
  const ::payments::events::v1::GatewayOperation* skipped = nullptr;
  // ProcessingExpired: the core stopped waiting for the answer; a late success is still
  // reversed, so the reconciler keeps asking.
  const ::payments::events::v1::GatewayOperation* expired = nullptr;
  // VoidStarted with a parent: the attempt this void reverses (a late success, or a step of
  // a failed plan). The void replaces that attempt's pending answer.
  std::string_view replaces;
  // CommandDeduplicated of a reconciler's answer: the operation it answers (its key) was
  // already resolved, so the reconciler's chase of it is over.
  std::string_view settled;
  // After this event the payment is not at rest: a call is outstanding, an outcome is
  // unknown, or an authorization answer was taken and the next decision (next step,
  // completion) belongs to the same command.
  bool payment_busy = false;
};

[[nodiscard]] OperationEffects EffectsOf(const ::payments::events::v1::EventEnvelope& event);

}  // namespace payorch::command
