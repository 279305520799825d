// The merchant API's connection to the log's events (internal); its commands go through a
// log::Appender (log/appender.h), whose AppendAsync acknowledgement a POST hands to its
// follower's waiter.
// - EventFollower: the projection's runner's observer (ProjectionRunner::ObserveBatches):
//   it reads no log of its own, but sees every batch of events the projection reads and
//   the views they changed, before the store's next commit. It answers the waiters of
//   in-flight requests by causation.command_id and follows their payment until no gateway
//   operation is in flight ("settled"); a waiter is answered through a callback
//   (OnAnswer), so no thread waits for the log, and a timer thread answers those whose
//   deadline passes first. It keeps the views changed in the last 5 s (at most 50,000):
//   a POST answers from them without waiting for the projection's next commit (at most
//   50 ms or 20,000 records later), and reads after the answer see at least as much.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "payments/events/v1/events.pb.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/runner.h"
#include "projection/store.h"

namespace payorch::api::internal {

// What the follower learnt about one command.
struct Decision {
  bool decided = false;  // every event of the command was seen
  bool settled = false;  // and no gateway operation of the payment is in flight
  bool deduplicated = false;
  std::optional<::payments::events::v1::CommandRejected> rejection;
  uint64_t max_sequence = 0;
  std::string payment_id;  // as the events named it
  // A refund command's refund id (RefundStarted.refund_id, or the original of a
  // deduplicated refund), "" otherwise.
  std::string refund_id;
  // OnAnswer()/Wait(): why the log did not acknowledge the command ("" when it
  // did). Set, the command may or may not be in the log; nothing else here counts.
  std::string append_error;
};

class EventFollower {
 public:
  // `on_event`, if set, sees every event the follower reads (e.g. routing statistics).
  explicit EventFollower(
      const projection::ProjectionStore* store,
      std::function<void(const ::payments::events::v1::EventEnvelope&)> on_event = {});
  ~EventFollower();
  // What the projection's runner calls after each batch (ProjectionRunner::ObserveBatches):
  // the follower reads no log of its own, it sees the runner's events and view changes.
  [[nodiscard]] projection::ProjectionRunner::BatchObserver Observer();
  void Stop();

  struct Waiter;
  // Register before appending the command.
  std::shared_ptr<Waiter> Expect(const std::string& command_id, const std::string& payment_id);
  using AnswerFn = std::function<void(const Decision&)>;
  // For a command appended with AppendAsync() whose callback calls Acknowledged(): calls
  // `answer` once, when the log acknowledged the command and it is decided and settled, or
  // at `deadline` once it is acknowledged; with Decision::append_error if the log refused
  // it or did not acknowledge it by `append_deadline`. Then forgets the waiter. Nothing
  // blocks: `answer` runs on the thread that learnt it (the follower, the appender's
  // delivery or the deadline timer), so it must be short (hand real work to a worker).
  // Stop() answers every waiter left.
  void OnAnswer(const std::shared_ptr<Waiter>& waiter,
                std::chrono::steady_clock::time_point deadline,
                std::chrono::steady_clock::time_point append_deadline, AnswerFn answer);
  // OnAnswer(), waiting for it on this thread.
  Decision Wait(const std::shared_ptr<Waiter>& waiter,
                std::chrono::steady_clock::time_point deadline,
                std::chrono::steady_clock::time_point append_deadline);
  // The log's answer to the append of the waiter's command ("" = acknowledged). Any thread.
  static void Acknowledged(const std::shared_ptr<Waiter>& waiter, const std::string& error);
  void Forget(const std::shared_ptr<Waiter>& waiter);

  // The view of `payment_id` the follower last computed (kept 5 s, at most 50,000).
  [[nodiscard]] std::optional<::payments::projection::v1::PaymentView> Recent(
      const std::string& payment_id) const;
  // Recent() if there is one (the store is never newer: it commits what the follower
  // already saw), else the store's view.
  [[nodiscard]] std::optional<::payments::projection::v1::PaymentView> Latest(
      const std::string& payment_id) const;

 private:
  void Observe(const ::payments::events::v1::EventEnvelope& e,
               std::vector<std::shared_ptr<Waiter>>* touched);
  // Answers the waiter if it is ready (or `stopping`), else sets its deadline timer.
  void Check(const std::shared_ptr<Waiter>& waiter, bool stopping = false);
  void TimerLoop();
  // One batch of the runner's: waiters touched, views kept in recent_, waiters checked.
  void Apply(const std::vector<const ::payments::events::v1::EventEnvelope*>& events,
             const std::vector<projection::Mutation>& changed);
  const projection::ProjectionStore* store_;
  std::function<void(const ::payments::events::v1::EventEnvelope&)> on_event_;
  struct RecentView {
    std::string bytes;
    int64_t at_ms = 0;
  };
  // The views of the last kRecentKeepMs, at most kMaxRecentViews (the oldest go first):
  // the store has them by then (the runner commits at most max_batch_ms, 50 ms, or
  // max_batch_records, 20,000, after observing them).
  static constexpr int64_t kRecentKeepMs = 5'000;
  static constexpr size_t kMaxRecentViews = 50'000;
  mutable std::mutex recent_mu_;
  std::unordered_map<std::string, RecentView> recent_;
  std::deque<std::pair<std::string, int64_t>> recent_order_;  // (payment id, at_ms), oldest first
  std::mutex apply_mu_;                                       // Apply() against Stop()
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Waiter>> by_command_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> by_payment_;
  bool stop_ = false;  // with apply_mu_
  // Deadlines of the waiters with an answer pending (one entry each), for TimerLoop.
  struct Timers;
  std::shared_ptr<Timers> timers_;
  std::thread timer_thread_;
};

}  // namespace payorch::api::internal
