#include "connectors/bank_gateway.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

GatewayAnswer BankTransferGateway::Execute(const GatewayRequest& request) {
  GatewayAnswer answer;
  if (request.kind != ev::OPERATION_KIND_SALE) {
    answer.outcome = cmd::GATEWAY_OUTCOME_FAILED;
    answer.error_code = types::ERROR_CODE_UNKNOWN;
    return answer;
  }
  answer.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
  answer.processor_reference = request.payment_id;
  return answer;
}

GatewayAnswer BankTransferGateway::Retrieve(std::string_view /*idempotency_key*/) {
  GatewayAnswer answer;
  answer.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
  return answer;
}

}  // namespace payorch::connectors
