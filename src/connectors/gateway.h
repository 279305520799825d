// Gateway: the one interface through which payorch talks to a payment processor.
//
// Contract:
//  - Execute() performs one operation under its idempotency key. The first answer under a
//    key is the processor's answer for good: repeating the call returns it again and never
//    moves money twice. A timeout is answered as GATEWAY_OUTCOME_UNKNOWN (error TIMEOUT).
//  - Retrieve() asks what happened under a key: SUCCEEDED / FAILED (the recorded answer),
//    NOT_FOUND (nothing happened under it), or UNKNOWN (could not tell right now).
//  - Answers carry only payorch's ErrorCode: processor-specific codes are mapped inside
//    the adapter and never leak above it.
//  - Implementations are thread-safe.
//
//   GatewayRequest req{.kind = OPERATION_KIND_SALE, .idempotency_key = "pay_1:s0:a1", ...};
//   GatewayAnswer answer = gateway.Execute(req);
//   if (answer.outcome == GATEWAY_OUTCOME_UNKNOWN) { /* reconcile by key later */ }
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"
#include "payments/types/v1/types.pb.h"

namespace payorch::connectors {

using OperationKind = ::payments::events::v1::OperationKind;
using GatewayOutcome = ::payments::commands::v1::GatewayOutcome;
using ErrorCode = ::payments::types::v1::ErrorCode;
using PaymentMethod = ::payments::types::v1::PaymentMethod;

struct GatewayRequest {
  OperationKind kind = ::payments::events::v1::OPERATION_KIND_UNSPECIFIED;
  std::string idempotency_key;
  std::string processor_id;
  PaymentMethod method = ::payments::types::v1::PAYMENT_METHOD_UNSPECIFIED;
  int64_t amount_minor = 0;
  std::string currency;
  // For capture/void/refund: the processor reference of the operation it acts on.
  std::string target_reference;
  // 0 = no deadline.
  uint32_t timeout_ms = 0;
  // Not sent to processors; recorded in the simulated ledger for the audit.
  std::string payment_id;
  uint32_t step_index = 0;
};

struct GatewayAnswer {
  GatewayOutcome outcome = ::payments::commands::v1::GATEWAY_OUTCOME_UNSPECIFIED;
  int64_t amount_processed_minor = 0;
  ErrorCode error_code = ::payments::types::v1::ERROR_CODE_UNSPECIFIED;
  std::string processor_reference;
  uint32_t latency_ms = 0;
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual GatewayAnswer Execute(const GatewayRequest& request) = 0;
  virtual GatewayAnswer Retrieve(std::string_view idempotency_key) = 0;
};

}  // namespace payorch::connectors
