// Bulkhead: one bounded pool of workers per processor, so a slow processor slows only its
// own calls, and nothing that must stay responsive (the connectors' poll loop) ever waits
// on a processor. Gateway calls, retrieves and compensating voids all run here.
//
// Contract:
//  - Each processor gets `concurrency` worker threads on first use, and one queue in three
//    lanes, served in order: kUrgent (compensating voids of failed payments whose charge
//    was found, late chases), kFollowUp (capture, void, refund, ordinary retrieves),
//    kCharge (new authorizations and sales).
//  - Submit() never blocks and never refuses: the caller decides admission first, with
//    Saturated() for a new charge (refused before it is queued: the plan's fallback takes
//    it) and queued() for everything else (the connector loop stops reading the log while
//    too much is queued; see runtime/connector_loop.h).
//  - Saturated(processor, budget): the queue is at queue_limit, or every worker is busy
//    and the work already queued would take longer than `budget_ms` at the processor's
//    recent latency (an exponentially weighted mean of finished tasks): a new charge would
//    wait past its own timeout before being sent. IsSaturated() is the pure rule.
//  - Stop() drops what is queued (its events stay in the log, unanswered, and the resume
//    point keeps them) and waits for the tasks in flight, each bounded by its processor's
//    timeout.
//
//   Bulkhead bulkhead({.concurrency = 8, .queue_limit = 256});
//   if (!bulkhead.Saturated("psp_a", 800)) {
//     bulkhead.Submit("psp_a", Bulkhead::Lane::kCharge, [&] { gateway->Execute(req); });
//   }
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace payorch::connectors {

struct BulkheadOptions {
  int concurrency = 8;       // tasks in flight per processor
  size_t queue_limit = 256;  // tasks queued per processor before new charges are refused
};

struct BulkheadLoad {
  size_t queued = 0;
  int in_flight = 0;
  double latency_ms = 0;  // weighted mean duration of finished tasks (0: none yet)
};

// Whether a new charge with a timeout of `budget_ms` should be refused (see the contract).
[[nodiscard]] bool IsSaturated(const BulkheadLoad& load, const BulkheadOptions& options,
                               uint32_t budget_ms);

// Whether no new charge could be sent now (runtime/admission.h): some processor has work
// and every processor is saturated, among those with a pool in `loads` and the `known`
// ones (configured, or called since the start) without one. A known processor with no work
// has room: a saturated processor's new charges are skipped to the plan's fallback there.
[[nodiscard]] bool EveryProcessorSaturated(
    const std::vector<std::pair<std::string, BulkheadLoad>>& loads,
    const std::vector<std::string>& known, const BulkheadOptions& options);

class Bulkhead {
 public:
  enum class Lane : uint8_t { kUrgent = 0, kFollowUp = 1, kCharge = 2 };

  explicit Bulkhead(BulkheadOptions options);
  ~Bulkhead();  // Stop()
  Bulkhead(const Bulkhead&) = delete;
  Bulkhead& operator=(const Bulkhead&) = delete;

  void Submit(const std::string& processor, Lane lane, std::function<void()> task);
  [[nodiscard]] bool Saturated(const std::string& processor, uint32_t budget_ms) const;
  [[nodiscard]] BulkheadLoad LoadOf(const std::string& processor) const;
  [[nodiscard]] std::vector<std::pair<std::string, BulkheadLoad>> Loads() const;
  // Tasks queued on every processor, not yet started.
  [[nodiscard]] size_t queued() const;
  const BulkheadOptions& options() const { return options_; }
  void Stop();

 private:
  struct Pool {
    std::deque<std::function<void()>> lanes[3];
    size_t queued = 0;
    int in_flight = 0;
    double latency_ms = 0;
    std::condition_variable ready;
    std::vector<std::thread> workers;
  };
  void Work(Pool* pool);

  const BulkheadOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  size_t queued_ = 0;
  bool stopping_ = false;
};

}  // namespace payorch::connectors
