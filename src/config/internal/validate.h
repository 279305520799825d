// Internal: semantic checks of a parsed OrchestratorConfig (bounds in src/config/README.md).
#pragma once

#include <optional>

#include "config/internal/problem.h"
#include "payments/config/v1/config.pb.h"

namespace payorch::config::internal {

inline constexpr size_t kMaxMerchantIdLength = 64;  // as command/parser.h kMaxIdLength
inline constexpr size_t kMaxStepsPerProfile = 16;
inline constexpr uint32_t kMaxRetriesPerStep = 10;
inline constexpr uint32_t kMinAttemptTimeoutMs = 100;
inline constexpr uint32_t kMaxAttemptTimeoutMs = 120'000;  // 2 minutes
inline constexpr uint32_t kMinProcessingDeadlineMs = 1'000;
// 5 days: a bank transfer waits for the bank's pain.002 (docs/iso20022.md, "Deadline").
inline constexpr uint32_t kMaxProcessingDeadlineMs = 432'000'000;

// Checks `config` and normalises it in place: a missing (0) schema_version becomes 1 and
// currencies are upper-cased. Returns the first problem, with its path (no position).
std::optional<Problem> Validate(::payments::config::v1::OrchestratorConfig* config);

}  // namespace payorch::config::internal
