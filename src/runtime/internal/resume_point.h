// Where the connectors may resume reading a partition of the events log after a restart:
// never past a call not yet answered, nor past an operation the reconciler still chases
// (an unknown outcome, a breaker's skip), so that a restart, which loses both, reads them
// again. Pure bookkeeping (no I/O, no clock): ConnectorLoop keeps one per partition and
// saves Checkpoint(); the simulation (tests/simulation) keeps the same class, so it checks
// this rule and not a copy of it.
//
//   ResumePoint rp(saved);          // from the last checkpoint
//   rp.Consumed(offset);            // every record read
//   rp.CallStarted(offset);         // a *Started event's call handed to a processor
//   rp.CallAnswered(offset);        // its answer appended to the commands topic
//   rp.Chased(key, offset);         // ChasedKey(e) (event_keys.h)
//   rp.Settled(key);                // SettledKey(e)
//   rp.Claim(offset, epoch, highest);  // a WriterClaimed the epoch filter took
//   store.SaveCheckpoint(..., rp.Checkpoint());
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/state_store.h"

namespace payorch::runtime::internal {

class ResumePoint {
 public:
  ResumePoint() = default;
  // Resumes at a saved checkpoint: reading starts at its next_events_offset, with the
  // epoch filter as it was there.
  explicit ResumePoint(const PartitionMeta& saved)
      : next_(saved.next_events_offset),
        base_epoch_(saved.epoch),
        base_highest_(saved.highest_epoch_seen) {}

  void Consumed(int64_t offset) { next_ = offset + 1; }
  int64_t next_offset() const { return next_; }

  void CallStarted(int64_t offset) { outstanding_.insert(offset); }
  // One call of the event at `offset` is answered (or will not be made). Unknown offsets
  // are ignored.
  void CallAnswered(int64_t offset);
  size_t calls_outstanding() const { return outstanding_.size(); }

  void Chased(const std::string& key, int64_t offset) { chased_.emplace(key, offset); }
  void Settled(const std::string& key) { chased_.erase(key); }
  size_t chased() const { return chased_.size(); }

  void Claim(int64_t offset, uint64_t epoch, uint64_t highest) {
    claims_.emplace_back(offset, epoch, highest);
  }

  // The lowest offset still needed, with the epoch filter's state there. Claims before it
  // are folded into the base, so the list stays short.
  PartitionMeta Checkpoint();

 private:
  int64_t next_ = 0;                       // read up to here
  std::multiset<int64_t> outstanding_;     // offsets of unanswered calls
  std::map<std::string, int64_t> chased_;  // ChasedKey -> offset of its event
  // (offset, epoch, highest) of claims read, to know the epoch at the resume point.
  std::vector<std::tuple<int64_t, uint64_t, uint64_t>> claims_;
  uint64_t base_epoch_ = 0;
  uint64_t base_highest_ = 0;
};

}  // namespace payorch::runtime::internal
