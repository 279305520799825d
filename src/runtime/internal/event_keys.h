// Which gateway operation an event asks for, leaves to the reconciler, or settles, as the
// connectors read the events log: their resume-point bookkeeping over command::EffectsOf
// (command/lifecycle.h), which says what each event does. ConnectorLoop uses these for its resume
// point (a restart never resumes past an unanswered call or an op the reconciler still resolves);
// the simulation (tests/simulation) uses the same rules, so it checks the production bookkeeping
// and not a copy of it.
//
//   if (IsStarted(e)) Call(StartedKey(e));
//   if (std::string key = ChasedKey(e); !key.empty()) unknown.emplace(key, offset);
//   if (std::string key = SettledKey(e); !key.empty()) unknown.erase(key);
#pragma once

#include <string>

#include "command/lifecycle.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::runtime::internal {

// A *Started event: a gateway call to make.
inline bool IsStarted(const ::payments::events::v1::EventEnvelope& e) {
  return command::EffectsOf(e).started != nullptr;
}

// The operation key a *Started event asks the gateway to execute.
inline const std::string& StartedKey(const ::payments::events::v1::EventEnvelope& e) {
  return command::EffectsOf(e).started->idempotency_key();
}

// The operation key an event leaves to the reconciler, if any: an unknown outcome
// (PaymentProcessing), or a step an open breaker skipped (that connector sent nothing, but
// another may have sent the key; the Reconciler's chase seals it or finds the charge).
// The connectors' resume point stays at or before this event until SettledKey names the
// key, so a restart, which loses the Reconciler's memory, re-reads it and chases again.
inline std::string ChasedKey(const ::payments::events::v1::EventEnvelope& e) {
  const command::OperationEffects fx = command::EffectsOf(e);
  if (fx.unknown != nullptr) return fx.unknown->idempotency_key();
  if (fx.skipped != nullptr) return fx.skipped->idempotency_key();
  return "";
}

// The operation key an event settles, if any: an answer the core took, the void that
// replaces an authorization whose success came late, or a reconciler's answer that the core
// de-duplicated (the answer for an attempt already resolved, e.g. one whose deadline
// passed while the reconciler kept asking). A call's repeated answer that the core
// de-duplicates settles nothing: while the payment is processing, a second UNKNOWN (a
// duplicate delivery, a repeated call) or an open breaker's skip is taken as a repeat, and
// the op is still the reconciler's. The reconciler's answers are always definite; the core
// marks their de-duplication (CommandDeduplicated.reconciler_answer, EffectsOf().settled).
inline std::string SettledKey(const ::payments::events::v1::EventEnvelope& e) {
  const command::OperationEffects fx = command::EffectsOf(e);
  if (fx.answered != nullptr) return fx.answered->idempotency_key();
  if (!fx.replaces.empty()) return std::string(fx.replaces);
  if (!fx.settled.empty()) return std::string(fx.settled);
  // Records written before CommandDeduplicated.reconciler_answer existed (session 8) say
  // it only through the reconciler's command id. Kept for them: the log is replayed.
  if (e.has_command_deduplicated() && e.command_deduplicated().command_type() == "gateway_result" &&
      e.causation().command_id().find("/reconcile/") != std::string::npos) {
    return e.command_deduplicated().original_id();
  }
  return "";
}

}  // namespace payorch::runtime::internal
