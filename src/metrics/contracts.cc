#include "metrics/contracts.h"

namespace payorch::metrics {

std::string_view ContractBreachedBy(const ::payments::events::v1::EventEnvelope& e) {
  namespace ev = ::payments::events::v1;
  switch (e.event_case()) {
    case ev::EventEnvelope::kCommandRejected:
      return e.command_rejected().contract_id();
    case ev::EventEnvelope::kStepFailed:
      return e.step_failed().result().error_code() == ::payments::types::v1::ERROR_CODE_TIMEOUT
                 ? contract::kRouterTimeout
                 : std::string_view();
    case ev::EventEnvelope::kPaymentProcessing:
      return contract::kGatewayUnknownOutcome;
    case ev::EventEnvelope::kProcessingExpired:
      return contract::kProcessingDeadline;
    default:
      return {};
  }
}

}  // namespace payorch::metrics
