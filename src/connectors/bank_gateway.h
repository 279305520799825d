// BankTransferGateway: a bank credit transfer seen from payorch. The transfer is made by the
// payer's bank from a pain.001 (docs/iso20022.md); its outcome arrives days later in a
// pain.002 status report, which the merchant API turns into RecordGatewayResult commands.
//
// Contract:
//  - Execute(SALE) answers GATEWAY_OUTCOME_UNKNOWN with processor_reference = payment id:
//    the payment goes to processing and waits for the report (or its processing deadline).
//    Nothing moves money here, so nothing is recorded.
//  - Execute of any other kind (AUTHORIZE, CAPTURE, VOID, REFUND) answers FAILED
//    ERROR_CODE_UNKNOWN: a credit transfer is neither authorized nor reversible by payorch.
//  - Retrieve answers UNKNOWN: only the bank's report can tell.
// Registry spec: "bank" (no keys). Thread-safe (stateless).
#pragma once

#include <string_view>

#include "connectors/gateway.h"

namespace payorch::connectors {

class BankTransferGateway : public Gateway {
 public:
  GatewayAnswer Execute(const GatewayRequest& request) override;
  GatewayAnswer Retrieve(std::string_view idempotency_key) override;
};

}  // namespace payorch::connectors
