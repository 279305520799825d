#include "runtime/connector_tracker.h"

#include <algorithm>
#include <utility>

#include "command/invariants.h"
#include "connectors/dispatcher.h"
#include "runtime/internal/event_keys.h"

namespace payorch::runtime {

namespace ev = ::payments::events::v1;

using internal::ChasedKey;
using internal::IsStarted;
using internal::SettledKey;
using internal::StartedKey;

namespace {

// The de-duplication memory (RecentSequences), a limit for the whole tracker: shared evenly
// by the owned partitions, at least kMinRememberedPerPartition each (~100 bytes an entry:
// ~3.5 MB with up to 64 partitions). Re-published copies follow their original within
// seconds, so 512 recent payments per partition are plenty; the limit is reached in under 3
// minutes at 200 payments/s, after which memory stays flat. Correctness does not depend on
// it: gateways de-duplicate by key.
constexpr size_t kMaxRememberedPayments = 32'768;
constexpr size_t kMinRememberedPerPartition = 512;

size_t RememberedPerPartition(size_t partitions) {
  return std::max(kMinRememberedPerPartition,
                  kMaxRememberedPayments / std::max<size_t>(1, partitions));
}

}  // namespace

int64_t ConnectorTracker::Assign(int32_t partition, PartitionMeta saved,
                                 std::optional<log::Watermarks> marks) {
  if (marks && (saved.next_events_offset > marks->high.value() ||
                saved.next_events_offset < marks->low.value())) {
    saved = PartitionMeta{};
    saved.next_events_offset = marks->low.value();
  }
  Track& t = tracks_[partition];
  t = Track{};
  t.filter.Restore(saved.epoch, saved.highest_epoch_seen);
  t.resume = internal::ResumePoint(saved);
  if (marks) t.catch_up_end = marks->high.value();
  // What the reconciler knew of this partition from an earlier assignment is stale.
  reconciler_.Forget(partition);
  if (t.resume.next_offset() < t.catch_up_end) {
    reconciler_.Hold(partition);
    t.reconciler_held = true;
  }
  for (auto& [p, track] : tracks_) {
    track.last_sequence.set_capacity(RememberedPerPartition(tracks_.size()));
  }
  return saved.next_events_offset;
}

size_t ConnectorTracker::Revoke(int32_t partition) {
  tracks_.erase(partition);
  for (auto& [p, track] : tracks_) {
    track.last_sequence.set_capacity(RememberedPerPartition(tracks_.size()));
  }
  // Its next owner chases its unknown outcomes; retrieving them here too would only load
  // the processor and append answers twice.
  return reconciler_.Forget(partition);
}

std::vector<int32_t> ConnectorTracker::owned() const {
  std::vector<int32_t> out;
  for (const auto& [p, t] : tracks_) out.push_back(p);
  return out;
}

std::vector<ConnectorTracker::Call> ConnectorTracker::Observe(const log::Record& r, int64_t now_ms,
                                                              Observation* seen) {
  std::vector<Call> calls;
  auto it = tracks_.find(r.partition.value());
  if (it == tracks_.end()) return calls;
  Track& t = it->second;
  const int64_t offset = r.offset.value();
  t.resume.Consumed(offset);
  ev::EventEnvelope e;
  // An undecodable record counts for nothing, like a fenced one.
  const command::Verdict verdict =
      e.ParseFromString(r.value) ? t.filter.Observe(e) : command::Verdict::kFenced;
  if (verdict != command::Verdict::kCounted && t.handed.erase(offset) > 0) {
    // The writer handed it over as counting (runtime/started_handoff.h): a broken rule.
    command::ReportBreach("connectors: a handed-off call's event does not count, offset " +
                          std::to_string(offset));
  }
  if (verdict == command::Verdict::kClaim) {
    t.resume.Claim(offset, t.filter.epoch(), t.filter.highest_seen());
  }
  // A re-published copy (a retried batch, a re-decided command) is not a new decision.
  const bool fresh =
      verdict == command::Verdict::kCounted &&
      (e.payment_id().empty() || t.last_sequence.Advance(e.payment_id(), e.sequence()));
  if (fresh) {
    reconciler_.OnEvent(e, r.partition.value());
    t.charges.OnEvent(e);
    if (auto held_ms = t.held_money.OnEvent(e, now_ms); held_ms && offset >= t.catch_up_end) {
      seen->hold_ended_ms = *held_ms;
    }
    // An unknown outcome, or a breaker's skip, is the reconciler's to resolve, not a call to
    // repeat; the resume point keeps it until the log settles it.
    if (std::string key = ChasedKey(e); !key.empty()) {
      t.resume.Chased(key, offset);
      DropHeld(t, key);
    }
    if (std::string key = SettledKey(e); !key.empty()) {
      t.resume.Settled(key);
      DropHeld(t, key);
    }
    if (IsStarted(e) && t.handed.erase(offset) == 0) {
      if (r.timestamp_ms > 0) seen->started_timestamp_ms = r.timestamp_ms;
      t.resume.CallStarted(offset);
      if (offset < t.catch_up_end) {
        t.held_by_key[StartedKey(e)] = offset;
        t.held.emplace(offset, Call{r.partition.value(), offset, std::move(e), /*repeat=*/true});
      } else {
        calls.push_back(Call{r.partition.value(), offset, std::move(e)});
      }
    }
  }
  if (t.resume.next_offset() < t.catch_up_end) return calls;
  if (t.reconciler_held) {
    reconciler_.Release(r.partition.value());
    t.reconciler_held = false;
  }
  // Caught up: what is still held has no answer in the log; call for it now.
  for (auto& [held_offset, call] : t.held) calls.push_back(std::move(call));
  t.held.clear();
  t.held_by_key.clear();
  return calls;
}

void ConnectorTracker::Answered(int32_t partition, int64_t offset) {
  if (auto it = tracks_.find(partition); it != tracks_.end())
    it->second.resume.CallAnswered(offset);
}

bool ConnectorTracker::MayTake(const StartedHandoff::Item& item) const {
  auto it = tracks_.find(item.partition);
  if (it == tracks_.end()) return false;
  const Track& t = it->second;
  return item.offset >= t.resume.next_offset() && t.resume.next_offset() >= t.catch_up_end &&
         t.filter.epoch() == item.epoch && t.handed.count(item.offset) == 0;
}

ConnectorTracker::Call ConnectorTracker::Take(StartedHandoff::Item item) {
  Track& t = tracks_.at(item.partition);
  t.handed.insert(item.offset);
  t.resume.CallStarted(item.offset);
  return Call{item.partition, item.offset, std::move(item.event)};
}

bool ConnectorTracker::Sheddable(const Call& call) const {
  if (call.repeat) return false;
  const ev::GatewayOperation* op = connectors::Dispatcher::OperationOf(call.event);
  if (op == nullptr || !connectors::Dispatcher::IsCharge(*op)) return false;
  auto it = tracks_.find(call.partition);
  return it == tracks_.end() || it->second.charges.MayShed(call.event);
}

std::optional<PartitionMeta> ConnectorTracker::Checkpoint(int32_t partition) {
  auto it = tracks_.find(partition);
  if (it == tracks_.end()) return std::nullopt;
  return it->second.resume.Checkpoint();
}

size_t ConnectorTracker::money_held() const {
  size_t count = 0;
  for (const auto& [p, t] : tracks_) count += t.held_money.count();
  return count;
}

int64_t ConnectorTracker::OldestHoldMs(int64_t now_ms) const {
  int64_t oldest = 0;
  for (const auto& [p, t] : tracks_) {
    if (t.held_money.count() > 0) oldest = std::max(oldest, t.held_money.OldestAgeMs(now_ms));
  }
  return oldest;
}

void ConnectorTracker::DropHeld(Track& t, const std::string& key) {
  auto k = t.held_by_key.find(key);
  if (k == t.held_by_key.end()) return;
  t.held.erase(k->second);
  t.resume.CallAnswered(k->second);
  t.held_by_key.erase(k);
}

}  // namespace payorch::runtime
