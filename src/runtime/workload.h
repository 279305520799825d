// Workload: a built-in upstream service and downstream observer, for the demo, the
// end-to-end and crash tests, and `payorch bench`.
//
//   Workload workload(kafka, {.payments = 10'000, .seed = 7});
//   workload.Start();                       // observer thread subscribes to the events
//   workload.PublishAll(progress);          // creates (with confirm) to the commands topic
//   workload.WaitSettled(deadline);         // every payment final, follow-ups answered
//   WorkloadSummary s = workload.Summary();
//
// The mix (seeded): cards through the co-branded processor with fallback, Apple Pay
// split with a card remainder, a flaky processor (declines, timeouts, lost answers),
// JPY payments, manual capture followed by a capture, refunds after success, and a few
// duplicates and malformed commands that must be rejected or de-duplicated.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/options.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::runtime {

struct WorkloadOptions {
  int payments = 10'000;
  uint64_t seed = 1;
  // Fixed arrival rate in payments/s; 0 = as fast as the producer goes.
  int rate = 0;
  double manual_capture = 0.08;
  double refund = 0.05;
  // A few bad commands (duplicates, reused key, unknown merchant, undecodable bytes).
  bool include_bad_input = true;
  std::string observer_group;  // default: unique per process
};

// Latency of one flow of the mix (ms, from the observer's clock: command sent -> the
// event that ends the flow read back).
struct FlowLatency {
  std::string name;
  int64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

struct WorkloadSummary {
  int64_t payments = 0;
  int64_t completed = 0;  // succeeded or requires_capture at their final event
  int64_t failed = 0;
  int64_t processing_resolved = 0;  // went through processing, then resolved
  int64_t unsettled = 0;            // no final event by the deadline
  int64_t refused = 0;              // creates rejected OVERLOADED (never started)
  int64_t captures = 0;
  int64_t refunds = 0;
  int64_t rejected = 0;
  int64_t deduplicated = 0;
  int64_t events = 0;
  double seconds = 0;  // first create sent to last payment final
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  std::map<std::string, int64_t> by_status;
  // Automatic capture (create -> succeeded), manual capture (create -> requires_capture,
  // then capture -> captured), refund (refund -> refunded), failed (create -> failed).
  std::vector<FlowLatency> flows;
};

// The flows as a table, one line per flow with payments in it.
[[nodiscard]] std::string FormatFlows(const WorkloadSummary& summary);

class Workload {
 public:
  Workload(log::KafkaOptions kafka, WorkloadOptions options);
  ~Workload();

  // Starts the observer (a consumer of the events topic). Returns "" or an error.
  [[nodiscard]] std::string Start();
  // Publishes the creates; `progress(sent)` is called now and then.
  [[nodiscard]] std::string PublishAll(const std::function<void(int64_t)>& progress = nullptr);
  // Waits until every payment has its final event and its follow-ups are answered, or the
  // timeout passes. `progress(settled)` is called now and then. True if all settled.
  bool WaitSettled(int timeout_ms, const std::function<void(int64_t)>& progress = nullptr);
  // True once the observer has its partitions. It reads from the beginning, so nothing is
  // missed either way; waiting for it keeps the group join out of the measured latency.
  bool ready() const;
  void Stop();
  WorkloadSummary Summary() const;

  // The payments the workload created (valid creates only).
  int64_t planned() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Deterministic commands of the mix, without sending them (for tests and benchmarks).
std::vector<::payments::commands::v1::CommandEnvelope> MakeCreateCommands(int payments,
                                                                          uint64_t seed);

}  // namespace payorch::runtime
