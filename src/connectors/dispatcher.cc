#include "connectors/dispatcher.h"

#include "connectors/internal/ops.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

std::optional<cmd::CommandEnvelope> Dispatcher::Handle(
    const ::payments::events::v1::EventEnvelope& event) {
  const auto* op = internal::StartedOperation(event);
  if (op == nullptr) {
    probe_.ignored.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  GatewayAnswer answer;
  if (Gateway* gateway = gateways_.Find(op->processor_id())) {
    probe_.calls.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<size_t>(op->kind()) < probe_.kinds.size()) {
      probe_.kinds[op->kind()].fetch_add(1, std::memory_order_relaxed);
    }
    answer = gateway->Execute(internal::RequestFor(*op, event.payment_id()));
  } else {
    probe_.unroutable.fetch_add(1, std::memory_order_relaxed);
    answer.outcome = cmd::GATEWAY_OUTCOME_FAILED;
    answer.error_code = types::ERROR_CODE_UNKNOWN;
  }
  if (static_cast<size_t>(answer.outcome) < probe_.outcomes.size()) {
    probe_.outcomes[answer.outcome].fetch_add(1, std::memory_order_relaxed);
  }
  return internal::ResultCommand(event.payment_id(), event.correlation_id(), *op, answer, "call",
                                 "gw/" + op->idempotency_key() + "/call");
}

}  // namespace payorch::connectors
