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

::payments::contracts::v1::ContractViolation MakeViolation(
    std::string_view contract_id, std::string_view payment_id, std::string_view merchant_id,
    std::string_view detail, std::string_view source, int64_t occurred_at_ms) {
  ::payments::contracts::v1::ContractViolation v;
  v.set_schema_version(1);
  v.set_contract_id(std::string(contract_id));
  v.set_payment_id(std::string(payment_id));
  v.set_merchant_id(std::string(merchant_id));
  v.set_detail(std::string(detail));
  v.set_occurred_at_ms(occurred_at_ms);
  v.set_source(std::string(source));
  return v;
}

}  // namespace payorch::metrics
