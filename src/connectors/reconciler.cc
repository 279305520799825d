#include "connectors/reconciler.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "command/lifecycle.h"
#include "connectors/internal/ops.h"
#include "connectors/internal/target_book.h"

namespace payorch::connectors {

namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;

Reconciler::Reconciler(GatewayRegistry& gateways, const Clock& clock, ReconcilerOptions options)
    : gateways_(gateways), clock_(clock), options_(options) {}

void Reconciler::Erase(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto p = by_payment_.find(it->second.payment_id);
  if (p != by_payment_.end()) {
    p->second.erase(key);
    if (p->second.empty()) by_payment_.erase(p);
  }
  entries_.erase(it);
}

void Reconciler::SettleOrChase(const std::string& key, int64_t event_time_ms, int64_t now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  const bool too_old = event_time_ms > 0 && now - event_time_ms > options_.late_horizon_ms;
  if (!options_.chase_late_answers || e.definite_sent || too_old) {
    Erase(key);
    return;
  }
  if (!e.late) {
    e.late = true;
    e.late_since_ms = event_time_ms > 0 ? std::min(event_time_ms, now) : now;
    e.next_try_ms = now;
    probe_.late.fetch_add(1, std::memory_order_relaxed);
  }
}

void Reconciler::Hold(int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  held_partitions_.insert(partition);
}

void Reconciler::Release(int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  held_partitions_.erase(partition);
}

size_t Reconciler::Forget(int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  held_partitions_.erase(partition);
  std::vector<std::string> keys;
  for (const auto& [key, e] : entries_) {
    if (e.partition == partition) keys.push_back(key);
  }
  for (const std::string& key : keys) Erase(key);
  return keys.size();
}

bool Reconciler::IsHeld(const Entry& e) const {
  return e.partition != kNoPartition && held_partitions_.count(e.partition) > 0;
}

void Reconciler::OnEvent(const ev::EventEnvelope& event, int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMs();
  switch (event.event_case()) {
    case ev::EventEnvelope::kPaymentProcessing: {
      const ev::PaymentProcessing& p = event.payment_processing();
      const std::string& key = p.op().idempotency_key();
      if (key.empty()) return;
      auto [it, fresh] = entries_.try_emplace(key);
      Entry& e = it->second;
      if (fresh) {
        e.op = p.op();
        e.payment_id = event.payment_id();
        e.partition = partition;
        e.next_try_ms = now + options_.initial_backoff_ms;
        e.backoff_ms = std::min<int64_t>(
            static_cast<int64_t>(options_.initial_backoff_ms * options_.multiplier),
            options_.max_backoff_ms);
        by_payment_[e.payment_id].insert(key);
      }
      e.correlation_id = event.correlation_id();
      e.deadline_at_ms = p.deadline_at_ms();
      return;
    }
    case ev::EventEnvelope::kStepFailed:
      if (event.step_failed().circuit_open() && options_.chase_late_answers) {
        ChaseSkipped(event, partition, now);
      } else {
        Erase(event.step_failed().op().idempotency_key());
      }
      return;
    case ev::EventEnvelope::kProcessingExpired:
      SettleOrChase(event.processing_expired().op().idempotency_key(), event.occurred_at_ms(), now);
      return;
    case ev::EventEnvelope::kPaymentFailed:
    case ev::EventEnvelope::kPaymentCompleted: {
      auto p = by_payment_.find(event.payment_id());
      if (p == by_payment_.end()) return;
      const std::set<std::string> keys = p->second;  // SettleOrChase may erase from it
      for (const std::string& key : keys) SettleOrChase(key, event.occurred_at_ms(), now);
      return;
    }
    default:
      if (const ev::GatewayOperation* op = command::EffectsOf(event).answered) {
        Erase(op->idempotency_key());
      }
      return;
  }
}

void Reconciler::ChaseSkipped(const ev::EventEnvelope& event, int32_t partition, int64_t now) {
  const ev::GatewayOperation& op = event.step_failed().op();
  if (op.idempotency_key().empty()) return;
  auto [it, fresh] = entries_.try_emplace(op.idempotency_key());
  if (!fresh) return;  // already tracked: its outcome was unknown
  Entry& e = it->second;
  e.op = op;
  e.payment_id = event.payment_id();
  e.partition = partition;
  e.correlation_id = event.correlation_id();
  e.late = true;
  e.skipped = true;
  e.late_since_ms = now;
  e.next_try_ms = now + options_.initial_backoff_ms;
  e.backoff_ms =
      std::min<int64_t>(static_cast<int64_t>(options_.initial_backoff_ms * options_.multiplier),
                        options_.max_backoff_ms);
  by_payment_[e.payment_id].insert(op.idempotency_key());
  probe_.skipped.fetch_add(1, std::memory_order_relaxed);
}

bool Reconciler::ExpiryDue(const Entry& e, int64_t now) const {
  return !IsHeld(e) && !e.late && !e.expire_sent && !e.in_flight && e.deadline_at_ms > 0 &&
         now >= e.deadline_at_ms && internal::IsCharge(e.op.kind());
}

Reconciler::Pace& Reconciler::PaceOf(const std::string& processor) {
  Pace& pace = paces_[processor];
  if (pace.window == 0) pace.window = std::max(1, options_.max_retrieves_per_processor);
  return pace;
}

std::vector<RetrieveTask> Reconciler::TakeDue(
    const std::function<bool(const RetrieveTask&)>& admit) {
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  struct Candidate {
    bool urgent;
    int64_t due_ms;
    const std::string* key;
  };
  std::vector<Candidate> due;
  std::vector<std::string> expired;
  for (const auto& [key, e] : entries_) {
    if (IsHeld(e)) continue;
    if (e.late && now - e.late_since_ms > options_.late_horizon_ms) {
      if (!e.in_flight) expired.push_back(key);
    } else if (!e.in_flight && e.next_try_ms <= now) {
      due.push_back({e.late && !e.skipped, e.next_try_ms, &key});
    }
  }
  for (const std::string& key : expired) Erase(key);
  // Urgent first, then the longest overdue; the key breaks ties (deterministic).
  std::sort(due.begin(), due.end(), [](const Candidate& a, const Candidate& b) {
    if (a.urgent != b.urgent) return a.urgent;
    if (a.due_ms != b.due_ms) return a.due_ms < b.due_ms;
    return *a.key < *b.key;
  });
  std::vector<RetrieveTask> out;
  for (const Candidate& c : due) {
    Entry& e = entries_.at(*c.key);
    Pace& pace = PaceOf(e.op.processor_id());
    if (pace.in_flight >= pace.window) continue;
    RetrieveTask task{*c.key, e.op.processor_id(), c.urgent};
    if (!admit(task)) continue;
    e.in_flight = true;
    ++pace.in_flight;
    out.push_back(std::move(task));
  }
  return out;
}

std::optional<cmd::CommandEnvelope> Reconciler::Apply(const RetrieveTask& task,
                                                      const std::optional<GatewayAnswer>& answer,
                                                      int64_t now) {
  const bool definite = answer.has_value() && answer->outcome != cmd::GATEWAY_OUTCOME_UNKNOWN &&
                        answer->outcome != cmd::GATEWAY_OUTCOME_UNSPECIFIED;
  Pace& pace = PaceOf(task.processor_id);
  pace.in_flight = std::max(0, pace.in_flight - 1);
  if (definite && answer->latency_ms <= options_.slow_retrieve_ms) {
    pace.window = std::min(std::max(1, options_.max_retrieves_per_processor), pace.window + 1);
  } else if (pace.window > 1) {
    pace.window = std::max(1, pace.window / 2);
    probe_.narrowed.fetch_add(1, std::memory_order_relaxed);
  }
  if (answer.has_value()) {
    probe_.retrieves.fetch_add(1, std::memory_order_relaxed);
    (definite ? probe_.definite : probe_.unknown).fetch_add(1, std::memory_order_relaxed);
  } else {
    probe_.unroutable.fetch_add(1, std::memory_order_relaxed);
  }
  auto it = entries_.find(task.key);
  if (it == entries_.end()) return std::nullopt;  // settled meanwhile: the answer is moot
  Entry& e = it->second;
  e.in_flight = false;
  ++e.tries;
  e.next_try_ms = now + e.backoff_ms;
  e.backoff_ms = std::min<int64_t>(static_cast<int64_t>(e.backoff_ms * options_.multiplier),
                                   options_.max_backoff_ms);
  if (!definite) return std::nullopt;
  cmd::CommandEnvelope c = internal::ResultCommand(
      e.payment_id, e.correlation_id, e.op, *answer, command::kReconcilerSource,
      "gw/" + task.key + "/reconcile/" + std::to_string(e.tries));
  e.definite_sent = true;
  if (e.late) Erase(task.key);
  return c;
}

std::vector<cmd::CommandEnvelope> Reconciler::OnRetrieved(
    const RetrieveTask& task, const std::optional<GatewayAnswer>& answer) {
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cmd::CommandEnvelope> out;
  if (auto c = Apply(task, answer, now)) out.push_back(std::move(*c));
  return out;
}

std::optional<cmd::CommandEnvelope> Reconciler::ExpiryOf(const std::string& key, Entry& e,
                                                         int64_t now) {
  if (!ExpiryDue(e, now)) return std::nullopt;
  cmd::CommandEnvelope c;
  c.set_schema_version(1);
  c.set_command_id("expire/" + key);
  c.set_correlation_id(e.correlation_id);
  c.set_payment_id(e.payment_id);
  c.mutable_expire()->set_operation_key(key);
  e.expire_sent = true;
  probe_.expiries.fetch_add(1, std::memory_order_relaxed);
  return c;
}

std::vector<cmd::CommandEnvelope> Reconciler::Expiries() {
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<cmd::CommandEnvelope> out;
  for (auto& [key, e] : entries_) {
    if (auto c = ExpiryOf(key, e, now)) out.push_back(std::move(*c));
  }
  return out;
}

std::vector<cmd::CommandEnvelope> Reconciler::Tick() {
  // Every due op, window by window, retrieved on this thread (no lock held: gateways may
  // be slow); then the output is put in key order, a result before its op's expiry.
  std::map<std::string, std::vector<cmd::CommandEnvelope>> by_key;
  for (;;) {
    const std::vector<RetrieveTask> tasks = TakeDue([](const RetrieveTask&) { return true; });
    if (tasks.empty()) break;
    for (const RetrieveTask& task : tasks) {
      std::optional<GatewayAnswer> answer;
      if (Gateway* gateway = gateways_.Find(task.processor_id)) {
        answer = gateway->Retrieve(task.key);
      }
      for (auto& c : OnRetrieved(task, answer)) by_key[task.key].push_back(std::move(c));
    }
  }
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, e] : entries_) {
      // A definite answer in this tick makes the expiry moot.
      if (auto it = by_key.find(key); it != by_key.end() && !it->second.empty()) continue;
      if (auto c = ExpiryOf(key, e, now)) by_key[key].push_back(std::move(*c));
    }
  }
  std::vector<cmd::CommandEnvelope> out;
  for (auto& [key, commands] : by_key) {
    for (auto& c : commands) out.push_back(std::move(c));
  }
  return out;
}

int Reconciler::WindowOf(const std::string& processor) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = paces_.find(processor);
  return it == paces_.end() || it->second.window == 0
             ? std::max(1, options_.max_retrieves_per_processor)
             : it->second.window;
}

size_t Reconciler::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::optional<int64_t> Reconciler::NextDueMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int64_t> next;
  for (const auto& [key, e] : entries_) {
    if (IsHeld(e)) continue;
    int64_t t = e.next_try_ms;
    if (!e.late && !e.expire_sent && e.deadline_at_ms > 0 && internal::IsCharge(e.op.kind())) {
      t = std::min(t, e.deadline_at_ms);
    }
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace payorch::connectors
