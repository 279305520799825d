#include "connectors/reconciler.h"

#include <algorithm>
#include <utility>

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

void Reconciler::OnEvent(const ev::EventEnvelope& event) {
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
        ChaseSkipped(event, now);
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
      if (const ev::GatewayOperation* op = internal::SettlingOperation(event)) {
        Erase(op->idempotency_key());
      }
      return;
  }
}

void Reconciler::ChaseSkipped(const ev::EventEnvelope& event, int64_t now) {
  const ev::GatewayOperation& op = event.step_failed().op();
  if (op.idempotency_key().empty()) return;
  auto [it, fresh] = entries_.try_emplace(op.idempotency_key());
  if (!fresh) return;  // already tracked: its outcome was unknown
  Entry& e = it->second;
  e.op = op;
  e.payment_id = event.payment_id();
  e.correlation_id = event.correlation_id();
  e.late = true;
  e.late_since_ms = now;
  e.next_try_ms = now + options_.initial_backoff_ms;
  e.backoff_ms =
      std::min<int64_t>(static_cast<int64_t>(options_.initial_backoff_ms * options_.multiplier),
                        options_.max_backoff_ms);
  by_payment_[e.payment_id].insert(op.idempotency_key());
  probe_.skipped.fetch_add(1, std::memory_order_relaxed);
}

bool Reconciler::ExpiryDue(const Entry& e, int64_t now) const {
  return !e.late && !e.expire_sent && e.deadline_at_ms > 0 && now >= e.deadline_at_ms &&
         internal::IsCharge(e.op.kind());
}

std::vector<cmd::CommandEnvelope> Reconciler::Tick() {
  const int64_t now = clock_.NowMs();

  struct Due {
    std::string key;
    std::string processor_id;
    std::optional<GatewayAnswer> answer;  // nullopt: no gateway
  };
  std::vector<Due> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> expired;
    for (const auto& [key, e] : entries_) {
      if (e.late && now - e.late_since_ms > options_.late_horizon_ms) {
        expired.push_back(key);
      } else if (e.next_try_ms <= now) {
        due.push_back({key, e.op.processor_id(), std::nullopt});
      }
    }
    for (const std::string& key : expired) Erase(key);
  }

  for (Due& d : due) {  // no lock held: gateways may be slow
    if (Gateway* gateway = gateways_.Find(d.processor_id)) {
      probe_.retrieves.fetch_add(1, std::memory_order_relaxed);
      d.answer = gateway->Retrieve(d.key);
    } else {
      probe_.unroutable.fetch_add(1, std::memory_order_relaxed);
    }
  }

  std::vector<cmd::CommandEnvelope> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto next_due = due.begin();
  std::vector<std::string> done;
  for (auto& [key, e] : entries_) {
    bool definite_now = false;
    while (next_due != due.end() && next_due->key < key) ++next_due;
    if (next_due != due.end() && next_due->key == key) {
      const std::optional<GatewayAnswer>& answer = next_due->answer;
      ++e.tries;
      const bool definite = answer.has_value() && answer->outcome != cmd::GATEWAY_OUTCOME_UNKNOWN &&
                            answer->outcome != cmd::GATEWAY_OUTCOME_UNSPECIFIED;
      if (definite) {
        probe_.definite.fetch_add(1, std::memory_order_relaxed);
        out.push_back(
            internal::ResultCommand(e.payment_id, e.correlation_id, e.op, *answer, "reconcile",
                                    "gw/" + key + "/reconcile/" + std::to_string(e.tries)));
        e.definite_sent = true;
        definite_now = true;
        if (e.late) {
          done.push_back(key);
          continue;
        }
      } else if (answer.has_value()) {
        probe_.unknown.fetch_add(1, std::memory_order_relaxed);
      }
      e.next_try_ms = now + e.backoff_ms;
      e.backoff_ms = std::min<int64_t>(static_cast<int64_t>(e.backoff_ms * options_.multiplier),
                                       options_.max_backoff_ms);
    }
    if (!definite_now && ExpiryDue(e, now)) {
      cmd::CommandEnvelope c;
      c.set_schema_version(1);
      c.set_command_id("expire/" + key);
      c.set_correlation_id(e.correlation_id);
      c.set_payment_id(e.payment_id);
      c.mutable_expire()->set_operation_key(key);
      out.push_back(std::move(c));
      e.expire_sent = true;
      probe_.expiries.fetch_add(1, std::memory_order_relaxed);
    }
  }
  for (const std::string& key : done) Erase(key);
  return out;
}

size_t Reconciler::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::optional<int64_t> Reconciler::NextDueMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<int64_t> next;
  for (const auto& [key, e] : entries_) {
    int64_t t = e.next_try_ms;
    if (!e.late && !e.expire_sent && e.deadline_at_ms > 0 && internal::IsCharge(e.op.kind())) {
      t = std::min(t, e.deadline_at_ms);
    }
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace payorch::connectors
