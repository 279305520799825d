#include "connectors/dispatcher.h"

#include <string>
#include <string_view>

#include "command/lifecycle.h"
#include "connectors/breaker.h"
#include "connectors/internal/ops.h"
#include "connectors/internal/target_book.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

namespace {

cmd::CommandEnvelope TransitionCommand(const ev::EventEnvelope& event, const std::string& processor,
                                       const BreakerTransition& t) {
  cmd::CommandEnvelope c;
  c.set_schema_version(1);
  c.set_command_id("breaker/" + processor + "/" + std::to_string(t.at_ms) + "/" +
                   cmd::BreakerState_Name(t.to));
  c.set_payment_id(event.payment_id());
  c.set_correlation_id(event.correlation_id());
  auto* b = c.mutable_breaker_transition();
  b->set_processor_id(processor);
  b->set_merchant_id(event.merchant_id());
  b->set_from(t.from);
  b->set_to(t.to);
  b->set_at_ms(t.at_ms);
  b->set_consecutive_failures(t.consecutive_failures);
  return c;
}

// Nothing was sent under the op's key: FAILED, PROCESSOR_UNAVAILABLE, circuit_open.
cmd::CommandEnvelope SkipCommand(const ev::EventEnvelope& event, const ev::GatewayOperation& op,
                                 std::string_view source, std::string_view why) {
  GatewayAnswer answer;
  answer.outcome = cmd::GATEWAY_OUTCOME_FAILED;
  answer.error_code = types::ERROR_CODE_PROCESSOR_UNAVAILABLE;
  cmd::CommandEnvelope c =
      internal::ResultCommand(event.payment_id(), event.correlation_id(), op, answer, source,
                              "gw/" + op.idempotency_key() + "/" + std::string(why));
  c.mutable_gateway_result()->set_circuit_open(true);
  return c;
}

// A failure after which the gateway holds nothing under the key (gateway-api.md).
bool LeavesKeyOpen(const GatewayAnswer& a) {
  return a.outcome == cmd::GATEWAY_OUTCOME_FAILED &&
         (a.error_code == types::ERROR_CODE_NETWORK_FAILURE ||
          a.error_code == types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
}

}  // namespace

bool Dispatcher::IsCharge(const ev::GatewayOperation& op) { return internal::IsCharge(op.kind()); }

const ev::GatewayOperation* Dispatcher::OperationOf(const ev::EventEnvelope& event) {
  return command::EffectsOf(event).started;
}

cmd::CommandEnvelope Dispatcher::Saturated(const ev::EventEnvelope& event) {
  probe_.saturated.fetch_add(1, std::memory_order_relaxed);
  return SkipCommand(event, *command::EffectsOf(event).started, "bulkhead", "saturated");
}

std::optional<cmd::CommandEnvelope> Dispatcher::Handle(const ev::EventEnvelope& event) {
  std::vector<cmd::CommandEnvelope> all = HandleAll(event);
  if (all.empty()) return std::nullopt;
  return std::move(all.back());
}

std::vector<cmd::CommandEnvelope> Dispatcher::HandleAll(const ev::EventEnvelope& event,
                                                        bool repeat) {
  std::vector<cmd::CommandEnvelope> out;
  const auto* op = command::EffectsOf(event).started;
  if (op == nullptr) {
    probe_.ignored.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  const std::string& processor = op->processor_id();
  // A repeat is neither skipped nor counted: the breaker judges live calls only.
  const bool guarded = IsCharge(*op) && !repeat;
  BreakerBook& breakers = gateways_.breakers();
  auto now = [this] { return clock_ == nullptr ? int64_t{0} : clock_->NowMs(); };
  if (guarded) {
    Admission admission = breakers.Admit(event.merchant_id(), processor, now());
    if (admission.transition) {
      out.push_back(TransitionCommand(event, processor, *admission.transition));
    }
    if (!admission.allowed) {
      probe_.skipped.fetch_add(1, std::memory_order_relaxed);
      out.push_back(SkipCommand(event, *op, "breaker", "breaker"));
      return out;
    }
  }
  GatewayAnswer answer;
  if (Gateway* gateway = gateways_.Find(processor)) {
    probe_.calls.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<size_t>(op->kind()) < probe_.kinds.size()) {
      probe_.kinds[op->kind()].fetch_add(1, std::memory_order_relaxed);
    }
    answer = gateway->Execute(internal::RequestFor(*op, event.payment_id()));
    if (guarded) {  // the breaker judges the processor by the call's own answer
      if (auto t = breakers.Record(event.merchant_id(), processor, answer, now())) {
        out.push_back(TransitionCommand(event, processor, *t));
      }
    }
    if (LeavesKeyOpen(answer)) answer = Seal(*gateway, op->idempotency_key(), answer);
  } else {
    probe_.unroutable.fetch_add(1, std::memory_order_relaxed);
    answer.outcome = cmd::GATEWAY_OUTCOME_FAILED;
    answer.error_code = types::ERROR_CODE_UNKNOWN;
  }
  if (static_cast<size_t>(answer.outcome) < probe_.outcomes.size()) {
    probe_.outcomes[answer.outcome].fetch_add(1, std::memory_order_relaxed);
  }
  out.push_back(internal::ResultCommand(event.payment_id(), event.correlation_id(), *op, answer,
                                        "call", "gw/" + op->idempotency_key() + "/call"));
  return out;
}

GatewayAnswer Dispatcher::Seal(Gateway& gateway, const std::string& key,
                               const GatewayAnswer& failure) {
  probe_.seals.fetch_add(1, std::memory_order_relaxed);
  GatewayAnswer found = gateway.Retrieve(key);
  found.latency_ms += failure.latency_ms;
  switch (found.outcome) {
    case cmd::GATEWAY_OUTCOME_NOT_FOUND: {  // sealed: the failure is final
      GatewayAnswer sealed = failure;
      sealed.latency_ms = found.latency_ms;
      return sealed;
    }
    case cmd::GATEWAY_OUTCOME_SUCCEEDED:
    case cmd::GATEWAY_OUTCOME_FAILED:
      return found;  // a call under the same key was recorded meanwhile: its answer
    default:
      probe_.unsealed.fetch_add(1, std::memory_order_relaxed);
      found.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
      found.error_code = failure.error_code;
      return found;
  }
}

}  // namespace payorch::connectors
