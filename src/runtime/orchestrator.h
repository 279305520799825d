// Orchestrator: `payorch run`. One process hosts the single writers of the command
// partitions it is assigned (consumer group "payorch.writers") and the connectors of the
// event partitions it is assigned (group "payorch.connectors"), each on its own thread;
// with the invoice and order writers, also the saga (group "payorch.saga", runtime/saga.h).
//
//   Orchestrator orch(options);
//   std::atomic<bool> stop{false};
//   std::string err = orch.Run(stop);   // returns when stop is set, or on a fatal error
//
// Crash-only: a fatal error (a record that cannot be published, a store write failing)
// stops the process; a restart restores from the log and the store, and loses nothing.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "command/plan_builder.h"
#include "common/clock.h"
#include "connectors/registry.h"
#include "log/options.h"
#include "metrics/runtime_metrics.h"
#include "runtime/connector_loop.h"
#include "runtime/writer.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime {

struct OrchestratorOptions {
  log::KafkaOptions kafka;
  std::string data_dir;  // RocksDB state store
  // The invoice and order writers' stores; "": data_dir + "-invoices", data_dir + "-orders".
  std::string invoice_data_dir;
  std::string order_data_dir;
  std::string writer_id;
  std::string writers_group = "payorch.writers";
  std::string connectors_group = "payorch.connectors";
  // The invoice and order writers (runtime/aggregate_writer.h), with the payments writers.
  bool run_aggregates = true;
  std::string invoice_writers_group = "payorch.invoice-writers";
  std::string order_writers_group = "payorch.order-writers";
  // The saga (runtime/saga.h), run with the aggregate writers: payment events to order and
  // invoice commands. Its store: "" means data_dir + "-saga".
  std::string saga_group = "payorch.saga";
  std::string saga_data_dir;
  bool run_writers = true;
  bool run_connectors = true;
  // With both: the writers hand acknowledged *Started events to the connectors directly
  // (runtime/started_handoff.h); the connectors still read and check every event.
  bool handoff = true;
  int connector_threads = 8;  // per processor (ConnectorOptions::threads)
  size_t connector_queue_limit = 256;
  size_t connector_max_queued = 4096;
  size_t max_unknown_outcomes = 512;  // AdmissionLimits::max_unknown
  // Payment states the writers keep in memory, for all partitions of this process
  // (runtime::CacheBudget).
  size_t max_cached_payments = 100'000;
  // Empty: partitions come from the consumer groups. Otherwise this process owns exactly
  // these partitions (writers and connectors), with no group membership; fencing still
  // guarantees a single counted writer if two processes are given the same partition.
  std::vector<int32_t> static_partitions;
  const command::PlanBuilder* plans = nullptr;
  connectors::GatewayRegistry* gateways = nullptr;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  metrics::RuntimeMetrics* metrics = nullptr;  // optional: /metrics probes
};

struct OrchestratorProbe {
  WriterProbe writer;
  ConnectorProbe connectors;
  std::atomic<int64_t> outbox_depth{0};
  std::atomic<int> partitions{0};
  // Set once the writers' first assignment is restored and claimed (readiness).
  std::atomic<bool> writers_ready{false};
  // Owned partitions whose writer learnt that another writer claimed them since: it decides
  // nothing there until the partition is revoked (never, with --assign). Readiness fails.
  std::atomic<int> fenced_partitions{0};
};

class Orchestrator {
 public:
  explicit Orchestrator(OrchestratorOptions options);
  ~Orchestrator();
  [[nodiscard]] std::string Run(const std::atomic<bool>& stop);
  const OrchestratorProbe& probe() const { return probe_; }
  // Whether new payments are refused now (the merchant API asks it too).
  const Admission& admission() const { return admission_; }

 private:
  OrchestratorOptions options_;
  OrchestratorProbe probe_;
  Admission admission_;
};

}  // namespace payorch::runtime
