#include "command/validity.h"

#include <algorithm>

namespace payorch::command {

Verdict EpochFilter::ObserveEpoch(uint64_t epoch, bool is_claim) {
  highest_seen_ = std::max(highest_seen_, epoch);
  if (is_claim) {
    if (epoch > epoch_) {
      epoch_ = epoch;
      return Verdict::kClaim;
    }
    return Verdict::kFenced;
  }
  return epoch == epoch_ && epoch_ != 0 ? Verdict::kCounted : Verdict::kFenced;
}

}  // namespace payorch::command
