#include "command/validity.h"

#include <algorithm>

namespace payorch::command {

Verdict EpochFilter::Observe(const ev::EventEnvelope& event) {
  highest_seen_ = std::max(highest_seen_, event.epoch());
  if (event.has_writer_claimed()) {
    if (event.epoch() > epoch_) {
      epoch_ = event.epoch();
      return Verdict::kClaim;
    }
    return Verdict::kFenced;
  }
  return event.epoch() == epoch_ && epoch_ != 0 ? Verdict::kCounted : Verdict::kFenced;
}

std::optional<std::vector<ev::EventEnvelope>> CommandGroups::Add(const ev::EventEnvelope& event) {
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
  std::vector<ev::EventEnvelope> done;
  done.swap(partial_);
  return done;
}

}  // namespace payorch::command
