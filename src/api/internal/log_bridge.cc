#include "api/internal/log_bridge.h"

#include <spdlog/spdlog.h>

#include <future>
#include <map>

#include "command/lifecycle.h"
#include "common/thread_name.h"
#include "projection/internal/keys.h"

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;

struct EventFollower::Waiter {
  EventFollower* follower = nullptr;
  std::string command_id;
  std::string payment_id;
  std::mutex mu;
  Decision decision;
  // The append's outcome (Acknowledged()).
  enum class Append { kQueued, kAcknowledged, kFailed } append = Append::kQueued;
  // Set by OnAnswer, cleared once answered.
  AnswerFn answer;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point append_deadline;
  // Its entry in Timers::due, guarded by Timers::mu.
  std::optional<
      std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Waiter>>::iterator>
      timer;
};

struct EventFollower::Timers {
  std::mutex mu;
  std::condition_variable cv;
  std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Waiter>> due;
  bool stop = false;
};

namespace pv = ::payments::projection::v1;

namespace {
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::optional<pv::PaymentView> Newer(std::optional<std::string> a, std::optional<std::string> b) {
  std::optional<pv::PaymentView> va, vb;
  if (a) {
    va.emplace();
    if (!va->ParseFromString(*a)) va.reset();
  }
  if (b) {
    vb.emplace();
    if (!vb->ParseFromString(*b)) vb.reset();
  }
  if (va && vb) return va->last_sequence() >= vb->last_sequence() ? va : vb;
  return va ? va : vb;
}

}  // namespace

EventFollower::EventFollower(const projection::ProjectionStore* store,
                             std::function<void(const ev::EventEnvelope&)> on_event)
    : store_(store), on_event_(std::move(on_event)), timers_(std::make_shared<Timers>()) {
  timer_thread_ = std::thread([this] {
    NameThisThread("po-api-timer");
    TimerLoop();
  });
}
EventFollower::~EventFollower() { Stop(); }

std::optional<pv::PaymentView> EventFollower::Recent(const std::string& payment_id) const {
  std::optional<std::string> bytes;
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    auto it = recent_.find(payment_id);
    if (it != recent_.end()) bytes = it->second.bytes;
  }
  return Newer(std::move(bytes), std::nullopt);
}

std::optional<pv::PaymentView> EventFollower::Latest(const std::string& payment_id) const {
  std::optional<std::string> bytes;
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    auto it = recent_.find(payment_id);
    if (it != recent_.end()) bytes = it->second.bytes;
  }
  // A recent view is the newest there is: the store gets the same runner's mutations, and
  // only after the follower saw them.
  if (bytes) return Newer(std::move(bytes), std::nullopt);
  return Newer(std::nullopt, store_->Get(projection::internal::PaymentKey(payment_id)));
}

projection::ProjectionRunner::BatchObserver EventFollower::Observer() {
  return [this](const std::vector<const ev::EventEnvelope*>& events,
                const std::vector<projection::Mutation>& changed) { Apply(events, changed); };
}

void EventFollower::Apply(const std::vector<const ev::EventEnvelope*>& events,
                          const std::vector<projection::Mutation>& changed) {
  std::lock_guard<std::mutex> apply(apply_mu_);
  if (stop_) return;
  std::vector<std::shared_ptr<Waiter>> touched;
  for (const ev::EventEnvelope* e : events) {
    Observe(*e, &touched);
    if (on_event_) on_event_(*e);
  }
  const int64_t now = SteadyMs();
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    for (const projection::Mutation& m : changed) {
      if (!m.key.starts_with(projection::internal::kPaymentPrefix)) continue;
      std::string id = m.key.substr(projection::internal::kPaymentPrefix.size());
      recent_[id] = {m.value, now};
      recent_order_.emplace_back(std::move(id), now);
    }
    // Oldest first; an entry updated since is left to its newer one.
    while (!recent_order_.empty() && (now - recent_order_.front().second > kRecentKeepMs ||
                                      recent_order_.size() > kMaxRecentViews)) {
      const auto& [id, at] = recent_order_.front();
      if (auto it = recent_.find(id); it != recent_.end() && it->second.at_ms == at) {
        recent_.erase(it);
      }
      recent_order_.pop_front();
    }
  }
  for (const auto& w : touched) Check(w);  // the batch's views are in recent_
}

void EventFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(apply_mu_);  // no batch is being applied, none will be
    stop_ = true;
  }
  // Whatever is still waiting is answered now, as it stands.
  std::vector<std::shared_ptr<Waiter>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [_, w] : by_command_) left.push_back(w);
  }
  for (const auto& w : left) Check(w, /*stopping=*/true);
  {
    std::lock_guard<std::mutex> lock(timers_->mu);
    timers_->stop = true;
    timers_->due.clear();
  }
  timers_->cv.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
}

std::shared_ptr<EventFollower::Waiter> EventFollower::Expect(const std::string& command_id,
                                                             const std::string& payment_id) {
  auto w = std::make_shared<Waiter>();
  w->follower = this;
  w->command_id = command_id;
  w->payment_id = payment_id;
  w->decision.payment_id = payment_id;
  std::lock_guard<std::mutex> lock(mu_);
  by_command_[command_id] = w;
  if (!payment_id.empty()) by_payment_[payment_id].push_back(w);
  return w;
}

void EventFollower::Forget(const std::shared_ptr<Waiter>& w) {
  std::lock_guard<std::mutex> lock(mu_);
  auto c = by_command_.find(w->command_id);
  if (c != by_command_.end() && c->second == w) by_command_.erase(c);
  auto p = by_payment_.find(w->payment_id);
  if (p != by_payment_.end()) {
    std::erase(p->second, w);
    if (p->second.empty()) by_payment_.erase(p);
  }
}

void EventFollower::OnAnswer(const std::shared_ptr<Waiter>& w,
                             std::chrono::steady_clock::time_point deadline,
                             std::chrono::steady_clock::time_point append_deadline,
                             AnswerFn answer) {
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->deadline = deadline;
    w->append_deadline = append_deadline;
    w->answer = std::move(answer);
  }
  Check(w);
}

Decision EventFollower::Wait(const std::shared_ptr<Waiter>& w,
                             std::chrono::steady_clock::time_point deadline,
                             std::chrono::steady_clock::time_point append_deadline) {
  auto answer = std::make_shared<std::promise<Decision>>();
  std::future<Decision> done = answer->get_future();
  OnAnswer(w, deadline, append_deadline, [answer](const Decision& d) { answer->set_value(d); });
  return done.get();
}

void EventFollower::Acknowledged(const std::shared_ptr<Waiter>& w, const std::string& error) {
  using A = Waiter::Append;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    if (w->append != A::kQueued) return;
    w->append = error.empty() ? A::kAcknowledged : A::kFailed;
    if (!error.empty()) w->decision.append_error = error;
  }
  if (w->follower != nullptr) w->follower->Check(w);
}

void EventFollower::Check(const std::shared_ptr<Waiter>& w, bool stopping) {
  using A = Waiter::Append;
  using Clock = std::chrono::steady_clock;
  AnswerFn answer;
  Decision d;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    if (!w->answer) return;  // not asked for yet, or answered
    const auto now = Clock::now();
    bool ready = stopping;
    Clock::time_point next;  // when to look again, if not ready
    if (w->append == A::kFailed) {
      ready = true;
    } else if (w->append == A::kAcknowledged) {
      // Acknowledged: the decision, or whatever there is at the deadline.
      ready = ready || (w->decision.decided && w->decision.settled) || now >= w->deadline;
      next = w->deadline;
    } else if (now >= w->append_deadline) {
      w->decision.append_error = "the log did not acknowledge the command in time";
      ready = true;
    } else if (stopping) {
      w->decision.append_error = "the merchant API stopped before the log acknowledged it";
    } else {
      // Not acknowledged yet: the decision does not count before the acknowledgement.
      next = w->append_deadline;
    }
    if (ready) {
      answer = std::move(w->answer);
      w->answer = nullptr;
      d = w->decision;
    }
    // The timer follows the state, under the waiter's lock (lock order: waiter, timers).
    Timers& t = *timers_;
    std::lock_guard<std::mutex> tlock(t.mu);
    if (w->timer && (ready || (*w->timer)->first != next)) {
      t.due.erase(*w->timer);
      w->timer.reset();
    }
    if (!ready && !w->timer && !t.stop) {
      w->timer = t.due.emplace(next, w);
      if (*w->timer == t.due.begin()) t.cv.notify_one();
    }
  }
  if (!answer) return;
  Forget(w);
  answer(d);
}

void EventFollower::TimerLoop() {
  Timers& t = *timers_;
  std::unique_lock<std::mutex> lock(t.mu);
  while (!t.stop) {
    if (t.due.empty()) {
      t.cv.wait(lock);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now < t.due.begin()->first) {
      t.cv.wait_until(lock, t.due.begin()->first);
      continue;
    }
    std::vector<std::shared_ptr<Waiter>> due;
    while (!t.due.empty() && t.due.begin()->first <= now) {
      due.push_back(t.due.begin()->second);
      due.back()->timer.reset();
      t.due.erase(t.due.begin());
    }
    lock.unlock();
    for (const auto& w : due) Check(w);
    lock.lock();
  }
}

void EventFollower::Observe(const ev::EventEnvelope& e,
                            std::vector<std::shared_ptr<Waiter>>* touched) {
  std::shared_ptr<Waiter> by_cmd;
  std::vector<std::shared_ptr<Waiter>> by_pay;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (by_command_.empty()) return;
    auto c = by_command_.find(e.causation().command_id());
    if (c != by_command_.end()) by_cmd = c->second;
    if (!e.payment_id().empty()) {
      auto p = by_payment_.find(e.payment_id());
      if (p != by_payment_.end()) by_pay = p->second;
    }
  }
  auto update = [&](const std::shared_ptr<Waiter>& w) {
    std::lock_guard<std::mutex> lock(w->mu);
    Decision& d = w->decision;
    const bool own = w == by_cmd;
    if (own) {
      if (e.has_command_rejected()) d.rejection = e.command_rejected();
      if (e.has_command_deduplicated()) d.deduplicated = true;
      if (e.has_refund_started()) d.refund_id = e.refund_started().refund_id();
      if (e.has_command_deduplicated() &&
          e.command_deduplicated().original_id().rfind("ref_", 0) == 0)
        d.refund_id = e.command_deduplicated().original_id();
      if (e.causation().index() + 1 >= e.causation().count()) d.decided = true;
      if (d.payment_id.empty()) d.payment_id = e.payment_id();
    }
    if (own || e.payment_id() == w->payment_id) {
      if (e.sequence() > d.max_sequence) d.max_sequence = e.sequence();
      if (e.event_case() != ev::EventEnvelope::kBreakerTransitioned)
        d.settled = !command::EffectsOf(e).payment_busy;
    }
    if (own && d.rejection) d.settled = true;
    touched->push_back(w);  // notified once the batch's views are computed
  };
  if (by_cmd) update(by_cmd);
  for (const auto& w : by_pay)
    if (w != by_cmd) update(w);
}

}  // namespace payorch::api::internal
