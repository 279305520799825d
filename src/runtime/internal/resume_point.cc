#include "runtime/internal/resume_point.h"

#include <algorithm>

namespace payorch::runtime::internal {

void ResumePoint::CallAnswered(int64_t offset) {
  auto it = outstanding_.find(offset);
  if (it != outstanding_.end()) outstanding_.erase(it);
}

PartitionMeta ResumePoint::Checkpoint() {
  int64_t safe = next_;
  if (!outstanding_.empty()) safe = std::min(safe, *outstanding_.begin());
  for (const auto& [key, offset] : chased_) safe = std::min(safe, offset);
  PartitionMeta meta;
  meta.next_events_offset = safe;
  meta.epoch = base_epoch_;
  meta.highest_epoch_seen = base_highest_;
  size_t folded = 0;
  for (const auto& [offset, epoch, highest] : claims_) {
    if (offset >= safe) break;
    meta.epoch = epoch;
    meta.highest_epoch_seen = highest;
    ++folded;
  }
  base_epoch_ = meta.epoch;
  base_highest_ = meta.highest_epoch_seen;
  claims_.erase(claims_.begin(), claims_.begin() + static_cast<long>(folded));
  return meta;
}

}  // namespace payorch::runtime::internal
