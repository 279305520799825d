// ConnectorLoop: wires src/connectors/ to the log. It reads the events topic in its own
// consumer group, applies the validity rule, calls gateways for every counted *Started
// event, runs the reconciler, and appends the answers to the commands topic as
// RecordGatewayResult / ExpireProcessing commands, preceded by a RecordBreakerTransition
// whenever a call changes a circuit breaker's state (the breakers live in the
// GatewayRegistry and are timed by the injected clock).
//
// The poll thread never waits on a processor. Calls, retrieves and compensating voids run
// on the processors' bulkheads (connectors/bulkhead.h: `threads` workers and
// `queue_limit` queued tasks per processor); the poll thread only reads the log, hands
// work out, and appends the answers the workers hand back. Bounds and their answers:
//  - a new charge for a saturated processor is not queued: it is answered as skipped
//    (Dispatcher::Saturated), so the plan's fallback takes the payment at once;
//  - retrieves are taken from the reconciler only while the processor's queue has room
//    and within its adaptive window (connectors/reconciler.h); the rest stay due;
//  - everything else (captures, voids, refunds, repeats from history) is queued; while
//    more than max_queued tasks wait in all, the loop pauses its partitions (it keeps
//    polling, so it keeps its group membership) and resumes below half of that.
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
#include "runtime/admission.h"
#include "runtime/started_handoff.h"
#include "runtime/state_store.h"

namespace payorch::metrics {
struct RuntimeMetrics;
}

namespace spdlog {
class logger;
}

namespace payorch::runtime {

struct ConnectorProbe {
  std::atomic<uint64_t> dispatched{0};
  std::atomic<uint64_t> saturated{0};       // new charges skipped: bulkhead saturated
  std::atomic<int64_t> poll_gap_max_ms{0};  // largest time between two polls, since start
  std::atomic<uint64_t> results{0};
  std::atomic<uint64_t> reconciler_commands{0};
  std::atomic<int64_t> backlog{0};
  std::atomic<int> partitions{0};   // assigned to this member
  std::atomic<uint64_t> handed{0};  // calls made from a writer's hand-off, before the read
};

struct ConnectorOptions {
  log::KafkaOptions kafka;
  std::string group = "payorch.connectors";
  int threads = 8;           // calls in flight per processor (its bulkhead's workers)
  size_t queue_limit = 256;  // tasks queued per processor before new charges are skipped
  size_t max_queued = 4096;  // tasks queued in all before the loop stops reading
  EventStore* store = nullptr;
  connectors::GatewayRegistry* gateways = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  ConnectorProbe* probe = nullptr;
  metrics::RuntimeMetrics* metrics = nullptr;  // optional
  Admission* admission = nullptr;              // optional: told the load every tick
  std::vector<int32_t> static_partitions;      // empty: from the consumer group
  // Optional: *Started events this process's writers hand over once acknowledged
  // (runtime/started_handoff.h); their calls start before the consumer reads them.
  StartedHandoff* handoff = nullptr;
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
