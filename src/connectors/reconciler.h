// Reconciler: settles gateway operations whose outcome is unknown, by asking the gateway
// what happened under the op's idempotency key, with exponential backoff, and expires
// payments whose processing deadline has passed.
//
// Contract (fed the counted events, fencing already applied, in log order):
//  - OnEvent(PaymentProcessing) starts tracking its op (with deadline_at_ms). Tracking stops
//    when an event settles the op (StepSucceeded, StepFailed, PaymentCaptured,
//    CaptureFailed, PaymentVoided, VoidFailed, RefundSucceeded, RefundFailed with the same
//    key). ProcessingExpired for the key, or PaymentFailed / PaymentCompleted of the
//    payment, stop it too, except that with chase_late_answers an op for which no definite
//    answer was sent yet is chased once more: it is retrieved on the next Tick and keeps
//    being retried until a definite answer is sent (then dropped) or late_horizon_ms
//    passes. So a charge discovered after the deadline still reaches the writer, which
//    voids it (DEADLINE_POLICY_FAIL).
//  - A StepFailed skipped by an open circuit breaker (circuit_open) is chased the same way
//    (with chase_late_answers): that connector sent nothing, but another may have sent the
//    key (two connectors during a rebalance). Its retrieve seals the key (NOT_FOUND) or
//    finds the charge, which the writer then voids; it is dropped once a definite answer
//    is sent. The chase is in memory; ConnectorLoop's resume point stays before the skip
//    until the log settles it (runtime/internal/event_keys.h), so a restart chases again.
//  - An op's next try is due by the injected clock initial_backoff_ms after tracking
//    starts; after each try the delay is multiplied by `multiplier`, capped at
//    max_backoff_ms (200, 400, 800, ... 30000 by default).
//  - Scheduling (TakeDue/OnRetrieved, what ConnectorLoop uses: the retrieves run on the
//    processors' bulkheads, never on the poll thread): TakeDue() hands out due ops, each
//    once until its answer comes back through OnRetrieved(). Urgent ops come first: a
//    late chase (the payment failed or expired with the op's outcome unknown, so money
//    may be held) before an ordinary one or a skip's sealing chase, then by when they
//    fell due. Per processor at
//    most `window` retrieves are in flight; the window adapts to the processor (AIMD):
//    it halves (down to 1) on an UNKNOWN answer, a retrieve that could not be routed, or
//    one slower than slow_retrieve_ms, and grows by one (up to max_retrieves_per_processor)
//    on a fast definite answer. A struggling processor is asked less, never hammered.
//    A definite answer (SUCCEEDED, FAILED, NOT_FOUND) yields RecordGatewayResult (source
//    "reconcile", command_id "gw/<key>/reconcile/<n>", n = retrieves so far); the op stays
//    tracked, and is sent again on its next try, until an event settles it. UNKNOWN only
//    reschedules.
//  - Once the clock reaches deadline_at_ms of an AUTHORIZE/SALE op whose retrieve is not
//    in flight, Expiries() yields one ExpireProcessing (command_id "expire/<key>");
//    tracking goes on (a late answer may still come). A retrieve in flight at the
//    deadline is waited for (at most the processor's timeout): its answer may settle the
//    payment instead of failing it.
//  - Tick() is the synchronous form, for the simulation and tests: it takes every due op,
//    retrieves on the calling thread, and adds the expiries; a result comes before the
//    expiry of the same op.
//  - Output is ordered by operation key: the same events and clock give the same commands.
//  - Partitions (what ConnectorLoop uses; the simulation passes none): an op is tagged with
//    the events partition its PaymentProcessing or skip was read from. While a partition is
//    held (Hold: its owner is still re-reading history it had not seen), its ops are not
//    retrieved or expired: the log ahead may already settle them. Release() ends that.
//    Forget() drops a partition's ops when it is revoked: its new owner chases them, and
//    this instance must not go on retrieving and answering for it. A retrieve in flight
//    for a forgotten op still returns; its answer is moot.
//  - Memory: only unsettled ops are held.
//
//   Reconciler reconciler(registry, clock);
//   for (const EventEnvelope& e : counted_events) reconciler.OnEvent(e);
//   for (CommandEnvelope& c : reconciler.Tick()) produce("commands", c);
//
// Thread-safe; Tick calls gateways without holding its lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "connectors/registry.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

struct ReconcilerOptions {
  int64_t initial_backoff_ms = 200;
  int64_t max_backoff_ms = 30000;
  double multiplier = 2;
  bool chase_late_answers = true;
  int64_t late_horizon_ms = 24 * 3600 * 1000;
  // Adaptive retrieve concurrency per processor (see the contract).
  int max_retrieves_per_processor = 4;
  int64_t slow_retrieve_ms = 1000;
};

// A retrieve TakeDue() hands out; its answer goes back through OnRetrieved().
struct RetrieveTask {
  std::string key;
  std::string processor_id;
  bool urgent = false;  // a late chase: the payment moved on, money may be held
};

struct ReconcilerProbe {
  std::atomic<uint64_t> retrieves{0};
  std::atomic<uint64_t> definite{0};    // SUCCEEDED / FAILED / NOT_FOUND answers
  std::atomic<uint64_t> unknown{0};     // UNKNOWN answers, rescheduled
  std::atomic<uint64_t> unroutable{0};  // no gateway for the op's processor
  std::atomic<uint64_t> expiries{0};    // ExpireProcessing commands
  std::atomic<uint64_t> late{0};        // ops chased after their payment moved on
  std::atomic<uint64_t> skipped{0};     // ops chased after an open breaker skipped them
  std::atomic<uint64_t> narrowed{0};    // retrieve windows halved (slow or unknown answers)
};

class Reconciler {
 public:
  Reconciler(GatewayRegistry& gateways, const Clock& clock, ReconcilerOptions options = {});

  static constexpr int32_t kNoPartition = -1;

  void OnEvent(const ::payments::events::v1::EventEnvelope& event,
               int32_t partition = kNoPartition);
  // See "Partitions" in the contract.
  void Hold(int32_t partition);
  void Release(int32_t partition);
  // Drops the partition's ops (and its hold); returns how many were dropped.
  size_t Forget(int32_t partition);
  [[nodiscard]] std::vector<::payments::commands::v1::CommandEnvelope> Tick();

  // Due ops, urgent first, within each processor's window; each is marked in flight.
  // `admit` may refuse one (its bulkhead is full): it stays due for a later call.
  [[nodiscard]] std::vector<RetrieveTask> TakeDue(
      const std::function<bool(const RetrieveTask&)>& admit);
  // The answer of a taken op (nullopt: no gateway for its processor). Returns the result
  // command when the answer is definite.
  [[nodiscard]] std::vector<::payments::commands::v1::CommandEnvelope> OnRetrieved(
      const RetrieveTask& task, const std::optional<GatewayAnswer>& answer);
  // ExpireProcessing commands now due, in key order.
  [[nodiscard]] std::vector<::payments::commands::v1::CommandEnvelope> Expiries();

  size_t tracked() const;
  // Retrieves allowed in flight for `processor` now (its adaptive window).
  int WindowOf(const std::string& processor) const;
  // When the next Tick has work (a try or an expiry); nullopt if nothing is tracked but
  // held partitions' ops.
  std::optional<int64_t> NextDueMs() const;
  const ReconcilerProbe& probe() const { return probe_; }

 private:
  struct Entry {
    ::payments::events::v1::GatewayOperation op;
    std::string payment_id;
    std::string correlation_id;
    int64_t deadline_at_ms = 0;
    int64_t next_try_ms = 0;
    int64_t backoff_ms = 0;  // delay after the next try
    uint32_t tries = 0;
    bool definite_sent = false;
    bool expire_sent = false;
    bool late = false;
    int64_t late_since_ms = 0;
    bool in_flight = false;  // taken by TakeDue, answer not back yet
    bool skipped = false;    // chased because a skip sent nothing: sealing, not money at risk
    int32_t partition = kNoPartition;
  };
  struct Pace {  // per processor
    int window = 0;
    int in_flight = 0;
  };

  // Requires mu_.
  void Erase(const std::string& key);
  void SettleOrChase(const std::string& key, int64_t event_time_ms, int64_t now);
  void ChaseSkipped(const ::payments::events::v1::EventEnvelope& event, int32_t partition,
                    int64_t now);
  bool ExpiryDue(const Entry& e, int64_t now) const;
  bool IsHeld(const Entry& e) const;
  Pace& PaceOf(const std::string& processor);
  std::optional<::payments::commands::v1::CommandEnvelope> Apply(
      const RetrieveTask& task, const std::optional<GatewayAnswer>& answer, int64_t now);
  std::optional<::payments::commands::v1::CommandEnvelope> ExpiryOf(const std::string& key,
                                                                    Entry& e, int64_t now);

  GatewayRegistry& gateways_;
  const Clock& clock_;
  const ReconcilerOptions options_;
  ReconcilerProbe probe_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by op key, ordered for deterministic output
  std::unordered_map<std::string, std::set<std::string>> by_payment_;
  std::map<std::string, Pace> paces_;  // by processor
  std::set<int32_t> held_partitions_;
};

}  // namespace payorch::connectors
