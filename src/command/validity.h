// The one validity rule every reader of the events log applies (ARCHITECTURE.md,
// "The single writer, fenced through the log"), and the grouping of events by command.
//
//   EpochFilter filter;                 // one per events partition, fed in offset order
//   for (record : partition) {
//     switch (filter.Observe(event)) {
//       case Verdict::kCounted: apply(event); break;
//       case Verdict::kClaim:   break;   // a valid WriterClaimed: epoch moved up
//       case Verdict::kFenced:  break;   // a zombie's late event, or a losing claim
//     }
//   }
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

namespace ev = ::payments::events::v1;

enum class Verdict {
  kCounted,  // a decision of the writer that holds the partition
  kClaim,    // a WriterClaimed that raised the epoch
  kFenced,   // an event of a fenced epoch, or a claim not above the current epoch
};

// A claim counts only if its epoch is above every earlier claim's; an event counts only
// if its epoch equals the epoch of the latest counted claim before it. The rule is the same
// for every aggregate's events log (payments, invoices, orders): Observe takes any envelope
// with epoch() and has_writer_claimed().
class EpochFilter {
 public:
  template <class Envelope>
  Verdict Observe(const Envelope& event) {
    return ObserveEpoch(event.epoch(), event.has_writer_claimed());
  }
  Verdict ObserveEpoch(uint64_t epoch, bool is_claim);
  uint64_t epoch() const { return epoch_; }
  // The highest epoch any record carried, counted or not: a new claim must exceed it.
  uint64_t highest_seen() const { return highest_seen_; }
  // Resumes a filter saved at some offset (the state store keeps both numbers).
  void Restore(uint64_t epoch, uint64_t highest_seen) {
    epoch_ = epoch;
    highest_seen_ = highest_seen;
  }

 private:
  uint64_t epoch_ = 0;
  uint64_t highest_seen_ = 0;
};

// Collects the counted events of one command (same causation offset) and releases them
// together once all `count` have been seen. A group cut short (its writer died mid-publish)
// is dropped when the next group starts; the next writer decides that command again and
// publishes the whole group, identical but for the epoch. `Envelope` is any events
// envelope with epoch() and a payments.events.v1.Causation causation().
template <class Envelope>
class BasicCommandGroups {
 public:
  // Returns the completed group, if `event` completed one.
  std::optional<std::vector<Envelope>> Add(const Envelope& event) {
    const auto& c = event.causation();
    if (!partial_.empty() && (partial_.front().causation().offset() != c.offset() ||
                              partial_.front().epoch() != event.epoch() || c.index() == 0)) {
      partial_.clear();  // the writer of that group died before finishing it
    }
    if (c.offset() <= last_complete_offset_) return std::nullopt;  // already applied
    if (c.index() != partial_.size()) return std::nullopt;         // a tail of a cut group
    partial_.push_back(event);
    if (partial_.size() < std::max<uint32_t>(c.count(), 1)) return std::nullopt;
    last_complete_offset_ = c.offset();
    std::vector<Envelope> done;
    done.swap(partial_);
    return done;
  }
  // Add() without the copy for the commonest case: true when `event` is a whole group of
  // one (nothing unfinished before it, not already applied), which the caller then applies
  // itself; false otherwise, and nothing changed (call Add()).
  bool CompletesAlone(const Envelope& event) {
    const auto& c = event.causation();
    if (!partial_.empty() || c.index() != 0 || std::max<uint32_t>(c.count(), 1) != 1 ||
        c.offset() <= last_complete_offset_) {
      return false;
    }
    last_complete_offset_ = c.offset();
    return true;
  }
  // Whether some events of an unfinished group were seen.
  bool mid_group() const { return !partial_.empty(); }
  // How many (0 when not mid-group).
  size_t partial_size() const { return partial_.size(); }
  // Drops an unfinished group (e.g. when a new claim arrives).
  void DropPartial() { partial_.clear(); }
  // Causation offset of the last completed group, -1 if none.
  int64_t last_complete_offset() const { return last_complete_offset_; }
  void set_last_complete_offset(int64_t offset) { last_complete_offset_ = offset; }

 private:
  std::vector<Envelope> partial_;
  int64_t last_complete_offset_ = -1;
};

using CommandGroups = BasicCommandGroups<ev::EventEnvelope>;

}  // namespace payorch::command
