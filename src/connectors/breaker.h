// Circuit breakers: one per (merchant, processor), so a processor that keeps failing is
// skipped instead of called, and is probed again after a cool-down.
//
// The state machine is a pure function of (breaker, config, input, now): Admit() before a
// call, Record() after its answer. Neither does I/O or reads a clock; each returns the
// transition it made, if any, for the connectors to append as a RecordBreakerTransition
// command (so the log shows why a step was skipped).
//
//   CLOSED    --failure_threshold consecutive availability failures-->  OPEN
//   OPEN      --open_ms passed (at the next Admit)-->                    HALF_OPEN
//   HALF_OPEN --half_open_probes successes-->                            CLOSED
//   HALF_OPEN --one availability failure-->                              OPEN
// In HALF_OPEN at most half_open_probes calls are in flight; others are refused like OPEN.
// Availability failures: UNKNOWN answers (timeouts), FAILED with TIMEOUT, NETWORK_FAILURE
// or PROCESSOR_UNAVAILABLE, and, with slow_call_ms set, any answer slower than that (a
// processor over the merchant's latency budget is failing it even when it answers). A
// fast decline is a healthy processor's answer and counts as success.
//
//   BreakerBook book;
//   book.Configure(config);                        // payments.config.v1.OrchestratorConfig
//   auto admit = book.Admit("m_1", "psp_a", now);  // admit.allowed, admit.transition
//   ... call ...
//   auto t = book.Record("m_1", "psp_a", answer, now);
//
// BreakerBook is thread-safe; the free functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "connectors/gateway.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"

namespace payorch::connectors {

using BreakerState = ::payments::commands::v1::BreakerState;

struct BreakerConfig {
  uint32_t failure_threshold = 0;  // 0 = the breaker never opens
  int64_t open_ms = 30'000;
  uint32_t half_open_probes = 1;
  uint32_t slow_call_ms = 0;  // 0 = latency alone never counts
};
// From merchant configuration, with its defaults for zero fields.
[[nodiscard]] BreakerConfig BreakerConfigOf(const ::payments::config::v1::CircuitBreakerConfig& c);

struct Breaker {
  BreakerState state = ::payments::commands::v1::BREAKER_STATE_CLOSED;
  uint32_t consecutive_failures = 0;
  int64_t opened_at_ms = 0;
  uint32_t probes_in_flight = 0;
  uint32_t probe_successes = 0;
};

struct BreakerTransition {
  BreakerState from = ::payments::commands::v1::BREAKER_STATE_UNSPECIFIED;
  BreakerState to = ::payments::commands::v1::BREAKER_STATE_UNSPECIFIED;
  int64_t at_ms = 0;
  uint32_t consecutive_failures = 0;
};

struct Admission {
  bool allowed = true;
  std::optional<BreakerTransition> transition;
};

// May a call go ahead now? Moves OPEN -> HALF_OPEN once open_ms has passed.
[[nodiscard]] Admission Admit(Breaker& b, const BreakerConfig& config, int64_t now_ms);
// Feeds the answer of an admitted call.
[[nodiscard]] std::optional<BreakerTransition> Record(Breaker& b, const BreakerConfig& config,
                                                      bool availability_failure, int64_t now_ms);
// Whether an answer says the processor is unavailable (see the header comment).
[[nodiscard]] bool IsAvailabilityFailure(const GatewayAnswer& answer,
                                         const BreakerConfig& config = {});

class BreakerBook {
 public:
  // Thresholds per merchant; merchants without a circuit_breaker have none.
  void Configure(const ::payments::config::v1::OrchestratorConfig& config);
  [[nodiscard]] Admission Admit(const std::string& merchant, const std::string& processor,
                                int64_t now_ms);
  [[nodiscard]] std::optional<BreakerTransition> Record(const std::string& merchant,
                                                        const std::string& processor,
                                                        const GatewayAnswer& answer,
                                                        int64_t now_ms);
  [[nodiscard]] BreakerState StateOf(const std::string& merchant,
                                     const std::string& processor) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, BreakerConfig> configs_;  // by merchant
  std::map<std::pair<std::string, std::string>, Breaker> breakers_;
};

}  // namespace payorch::connectors
