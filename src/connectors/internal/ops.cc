#include "connectors/internal/ops.h"

#include <utility>

namespace payorch::connectors::internal {

namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;

GatewayRequest RequestFor(const ev::GatewayOperation& op, const std::string& payment_id) {
  GatewayRequest r;
  r.kind = op.kind();
  r.idempotency_key = op.idempotency_key();
  r.processor_id = op.processor_id();
  r.method = op.method();
  r.amount_minor = op.amount().amount_minor();
  r.currency = op.amount().currency();
  r.target_reference = op.target_reference();
  r.timeout_ms = op.timeout_ms();
  r.payment_id = payment_id;
  r.step_index = op.step_index();
  return r;
}

cmd::CommandEnvelope ResultCommand(const std::string& payment_id, const std::string& correlation_id,
                                   const ev::GatewayOperation& op, const GatewayAnswer& answer,
                                   std::string_view source, std::string command_id) {
  cmd::CommandEnvelope c;
  c.set_schema_version(1);
  c.set_command_id(std::move(command_id));
  c.set_correlation_id(correlation_id);
  c.set_payment_id(payment_id);
  cmd::RecordGatewayResult* r = c.mutable_gateway_result();
  r->set_operation_key(op.idempotency_key());
  r->set_outcome(answer.outcome);
  r->set_amount_processed_minor(answer.amount_processed_minor);
  r->set_error_code(answer.error_code);
  r->set_processor_reference(answer.processor_reference);
  r->set_latency_ms(answer.latency_ms);
  r->set_processor_id(op.processor_id());
  r->set_source(std::string(source));
  return c;
}

}  // namespace payorch::connectors::internal
