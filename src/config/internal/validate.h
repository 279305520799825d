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
inline constexpr uint32_t kMaxProcessingDeadlineMs = 86'400'000;  // 24 hours

// Checks `config` and normalises it in place: a missing (0) schema_version becomes 1 and
// currencies are upper-cased. Returns the first problem, with its path (no position).
std::optional<Problem> Validate(::payments::config::v1::OrchestratorConfig* config);

}  // namespace payorch::config::internal
