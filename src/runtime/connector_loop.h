// ConnectorLoop: wires src/connectors/ to the log. It reads the events topic in its own
// consumer group, applies the validity rule, calls gateways for every counted *Started
// event on a pool of worker threads, runs the reconciler, and appends the answers to the
// commands topic as RecordGatewayResult / ExpireProcessing commands, preceded by a
// RecordBreakerTransition whenever a call changes a circuit breaker's state (the breakers
// live in the GatewayRegistry and are timed by the injected clock).
//
// Crash safety: its resume point per partition (offset + epoch, in the state store) never
// passes an event whose gateway call is unanswered, nor one the reconciler is still
// resolving (an unknown outcome, a breaker's skip; runtime/internal/event_keys.h), so a
// restart calls again with the same idempotency key, or chases again; the gateway answers
// as before and the writer de-duplicates the repeated result.
//
//   ConnectorLoop loop(options);
//   std::string err = loop.Run(stop);   // until stop becomes true
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "connectors/registry.h"
#include "log/options.h"
#include "runtime/state_store.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime {

struct ConnectorProbe {
  std::atomic<uint64_t> dispatched{0};
  std::atomic<uint64_t> results{0};
  std::atomic<uint64_t> reconciler_commands{0};
  std::atomic<int64_t> backlog{0};
  std::atomic<int> partitions{0};  // assigned to this member
};

struct ConnectorOptions {
  log::KafkaOptions kafka;
  std::string group = "payorch.connectors";
  int threads = 8;
  StateStore* store = nullptr;
  connectors::GatewayRegistry* gateways = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  ConnectorProbe* probe = nullptr;
  std::vector<int32_t> static_partitions;  // empty: from the consumer group
};

class ConnectorLoop {
 public:
  explicit ConnectorLoop(ConnectorOptions options);
  ~ConnectorLoop();
  // Runs until `stop` is true. Returns "" or a one-line error.
  [[nodiscard]] std::string Run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::runtime
