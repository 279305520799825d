// RecentSequences: the highest event sequence seen per payment, for the most recently
// active payments only, in at most `capacity` entries. The connectors use it to skip a
// re-published copy of an event (a retried batch, a re-decided command) instead of calling
// the gateway again; such copies follow the original closely in the log, so a window of
// recent payments is enough, and a forgotten payment costs at most one repeated call
// under the same idempotency key (the gateway answers as before, the writer de-duplicates).
//
//   RecentSequences seen(4096);
//   if (seen.Advance(event.payment_id(), event.sequence())) Dispatch(event);  // new
//
// Two generations (an approximate LRU in O(1)): entries go to the current generation;
// when it holds capacity / 2, it becomes the previous one and the old previous one is
// dropped. A payment found in the previous generation moves to the current one, so an
// active payment is never forgotten while it keeps appearing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace payorch::runtime::internal {

class RecentSequences {
 public:
  explicit RecentSequences(size_t capacity) { set_capacity(capacity); }

  // True if `sequence` is higher than the one remembered for `payment_id` (or none is),
  // and then remembers it; false for a sequence already seen.
  bool Advance(const std::string& payment_id, uint64_t sequence) {
    uint64_t last = 0;
    if (auto it = current_.find(payment_id); it != current_.end()) {
      if (sequence <= it->second) return false;
      it->second = sequence;
      return true;
    }
    if (auto it = previous_.find(payment_id); it != previous_.end()) {
      last = it->second;
      previous_.erase(it);
    }
    if (current_.size() >= generation_) Rotate();
    current_.emplace(payment_id, std::max(last, sequence));
    return sequence > last;
  }

  // Takes effect at the next rotation: the size never exceeds the larger of the old and
  // the new capacity.
  void set_capacity(size_t capacity) { generation_ = std::max<size_t>(1, capacity / 2); }
  size_t capacity() const { return 2 * generation_; }
  size_t size() const { return current_.size() + previous_.size(); }

 private:
  void Rotate() {
    previous_.swap(current_);
    current_ = {};  // frees the oldest generation, buckets included
  }

  size_t generation_ = 1;
  std::unordered_map<std::string, uint64_t> current_;
  std::unordered_map<std::string, uint64_t> previous_;
};

}  // namespace payorch::runtime::internal
