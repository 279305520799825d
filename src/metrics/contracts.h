// The monitored system contracts, with their stable ids ("<area>/<name>"). A breach is a
// payments.contracts.v1.ContractViolation on payorch.contracts and a count in
// payorch_contract_violations_total{contract="..."}; `payorch retrospective` compares the
// counts with external complaints.
//
//   if (std::string_view id = metrics::ContractBreachedBy(event); !id.empty()) publish(id);
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "payments/contracts/v1/contracts.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::metrics {

namespace contract {
inline constexpr std::string_view kPlanCoverage = "plan/coverage";
inline constexpr std::string_view kRequestMalformed = "request/malformed";
inline constexpr std::string_view kIdempotencyMismatch = "idempotency/mismatch";
inline constexpr std::string_view kRouterTimeout = "router/timeout";
inline constexpr std::string_view kGatewayUnknownOutcome = "gateway/unknown-outcome";
inline constexpr std::string_view kProcessingDeadline = "processing/deadline";
inline constexpr std::string_view kWriterFenced = "writer/fenced";
// Raised by the merchant API's pain.002 intake (docs/iso20022.md).
inline constexpr std::string_view kIsoReportChanged = "iso20022/report_changed";
inline constexpr std::string_view kIsoOutcomeReversed = "iso20022/outcome_reversed";
}  // namespace contract

// Every contract id above, for reports that list the ones with no violation too.
inline constexpr std::array<std::string_view, 9> kContractIds = {
    contract::kPlanCoverage,  contract::kRequestMalformed,      contract::kIdempotencyMismatch,
    contract::kRouterTimeout, contract::kGatewayUnknownOutcome, contract::kProcessingDeadline,
    contract::kWriterFenced,  contract::kIsoReportChanged,      contract::kIsoOutcomeReversed};

// A violation record as every raiser writes it (schema version 1); the caller adds where it
// was found (partition, offset) when it knows.
[[nodiscard]] ::payments::contracts::v1::ContractViolation MakeViolation(
    std::string_view contract_id, std::string_view payment_id, std::string_view merchant_id,
    std::string_view detail, std::string_view source, int64_t occurred_at_ms);

// The contract a decided event records a breach of, or "" when none:
//   CommandRejected with a contract_id      -> that id (plan/coverage, request/malformed, ...)
//   StepFailed with ERROR_CODE_TIMEOUT      -> router/timeout (the attempt ran out of time)
//   PaymentProcessing                       -> gateway/unknown-outcome
//   ProcessingExpired                       -> processing/deadline
// (writer/fenced is raised by the writer itself, not by an event.)
[[nodiscard]] std::string_view ContractBreachedBy(const ::payments::events::v1::EventEnvelope& e);

}  // namespace payorch::metrics
