// ConnectorTracker: what the connectors know about the events partitions they read, and the
// rules that turn each record into gateway calls. Pure bookkeeping: no I/O, no clock, no
// threads (the caller passes the time). ConnectorLoop (runtime/connector_loop.h) is the shell
// around it (consumer, bulkheads, producer, checkpoints every 250 ms); the deterministic
// simulation (tests/simulation) drives the same class, so the rules it checks are these.
//
//   ConnectorTracker tracker(reconciler);
//   int64_t start = tracker.Assign(p, store.LoadCheckpoint("connectors", p), watermarks);
//   for (record : events of p from start) {
//     ConnectorTracker::Observation seen;
//     for (auto& call : tracker.Observe(record, now_ms, &seen)) Dispatch(call);
//   }
//   tracker.Answered(p, call.offset);   // once the call's answer is in the commands log
//   store.SaveCheckpoint("connectors", p, *tracker.Checkpoint(p));
//
// The rules, each kept here once:
// - The epoch filter (command/validity.h) decides which events count; a re-published copy
//   (same payment, sequence not above the last seen) is not a new decision.
// - A counted *Started event is a call (command::EffectsOf). Calls of events that were in the
//   log when the partition was assigned ("history") are held until the reader has caught up
//   to that point, and only those the log did not answer meanwhile are made: a processor
//   that kept no record of a failed try would take a repeat as a new request.
// - The reconciler takes unknown outcomes and breaker skips (ChasedKey) and forgets settled
//   ones (SettledKey); it neither retrieves nor expires a partition's ops until the catch-up.
// - The resume point (runtime/internal/resume_point.h) never passes an unanswered call or an
//   op the reconciler still chases.
//
// Not thread-safe: owned by the connectors' poll thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "command/validity.h"
#include "connectors/charge_admission.h"
#include "connectors/held_money.h"
#include "connectors/reconciler.h"
#include "log/record.h"
#include "payments/events/v1/events.pb.h"
#include "runtime/internal/recent_sequences.h"
#include "runtime/internal/resume_point.h"
#include "runtime/started_handoff.h"
#include "runtime/state_store.h"

namespace payorch::runtime {

class ConnectorTracker {
 public:
  // A gateway call to make for the *Started event at (partition, offset).
  struct Call {
    int32_t partition = 0;
    int64_t offset = 0;
    ::payments::events::v1::EventEnvelope event;
    bool repeat = false;  // from history: a call under its key may have been made before
  };

  // What one record showed, for the shell's metrics.
  struct Observation {
    // A hold of a failed payment's money ended (connectors/held_money.h), live (not in the
    // history re-read at assignment, which its live owner already observed).
    std::optional<int64_t> hold_ended_ms;
    // A live *Started event was read; its record's timestamp (for event -> connector lag).
    std::optional<int64_t> started_timestamp_ms;
  };

  explicit ConnectorTracker(connectors::Reconciler& reconciler) : reconciler_(reconciler) {}

  // Takes `partition`, resuming at `saved` (its last checkpoint). A checkpoint outside
  // `marks` belongs to another log (e.g. a new embedded broker) and restarts at the low
  // watermark. `marks` unknown: no catch-up hold. Returns the offset to read from.
  int64_t Assign(int32_t partition, PartitionMeta saved, std::optional<log::Watermarks> marks);
  // Drops `partition`; returns how many unsettled ops the reconciler forgot for it.
  size_t Revoke(int32_t partition);
  bool owns(int32_t partition) const { return tracks_.count(partition) > 0; }
  size_t partitions() const { return tracks_.size(); }
  std::vector<int32_t> owned() const;

  // One record of an owned partition (others are ignored), in offset order. Returns the calls
  // to make now: a live event's, or, at the end of the catch-up, the held ones still
  // unanswered.
  [[nodiscard]] std::vector<Call> Observe(const log::Record& record, int64_t now_ms,
                                          Observation* seen);

  // The call of the event at (partition, offset) is answered in the commands log, or will
  // not be made.
  void Answered(int32_t partition, int64_t offset);

  // A *Started event a writer of this process handed over once acknowledged
  // (runtime/started_handoff.h), before the reader reached it. Taken only on an owned,
  // caught-up partition in the same epoch, past the read position, not taken before; then
  // its call is this tracker's to answer and the read of the record makes no second call.
  [[nodiscard]] bool MayTake(const StartedHandoff::Item& item) const;
  [[nodiscard]] Call Take(StartedHandoff::Item item);

  // Whether `call` may be answered as skipped (Dispatcher::Saturated) when its processor has
  // no room, instead of queued: a new charge (not a repeat from history) of a payment with no
  // step charged yet (connectors/charge_admission.h). Everything else is committed work.
  bool Sheddable(const Call& call) const;

  // Where a restart of `partition` may resume, or nullopt if not owned.
  std::optional<PartitionMeta> Checkpoint(int32_t partition);

  // Failed payments' charges found and not yet voided, over the owned partitions.
  size_t money_held() const;
  int64_t OldestHoldMs(int64_t now_ms) const;

 private:
  struct Track;
  // A held call whose outcome the log already has is not made.
  static void DropHeld(Track& t, const std::string& key);

  connectors::Reconciler& reconciler_;
  std::map<int32_t, Track> tracks_;
};

// The per-partition state. Public for std::map's sake; use ConnectorTracker's methods.
struct ConnectorTracker::Track {
  command::EpochFilter filter;
  // Read position, unanswered calls and chased ops: where a restart resumes.
  internal::ResumePoint resume;
  // Per recent payment, for de-duplication; its capacity is set on assignment.
  internal::RecentSequences last_sequence{512};
  // Events below this offset were in the log when the partition was assigned. Calls they
  // start are held until the log up to it has been read, and only those still without an
  // answer in the log are made.
  int64_t catch_up_end = 0;
  std::map<int64_t, Call> held;  // offset -> call, in log order
  std::unordered_map<std::string, int64_t> held_by_key;
  // The reconciler neither retrieves nor expires this partition's ops until the catch-up:
  // the history ahead may settle them (an expiry there would fail a paid payment's twin).
  bool reconciler_held = false;
  // Failed payments' charges found and not yet voided (money at risk).
  connectors::HeldMoney held_money;
  // Which new charges may be shed when their processor is saturated (Sheddable).
  connectors::ChargeAdmission charges;
  // Offsets beyond the read position whose call a writer's hand-off already started: the
  // read of the record does everything else, but not the call.
  std::set<int64_t> handed;
};

}  // namespace payorch::runtime
