// RateLimiter: a token bucket per API key (capacity `burst`, refilled at `per_second`),
// and the conventional response headers (IETF draft "RateLimit header fields for HTTP").
//
//   RateLimiter limiter({.per_second = 100, .burst = 200}, &clock);
//   RateDecision d = limiter.Take(key_id);
//   for (auto& h : d.headers) response.headers.push_back(h);
//   if (!d.allowed) return 429;   // d.headers carries Retry-After too
//
// Bounded: at most `max_buckets` key ids are remembered (default 10,000; every key id
// presented gets a bucket, known or not, so the answer does not tell which ids exist).
// When full, buckets that have refilled (indistinguishable from new ones) are dropped
// first, then the least recently used one; a flood of distinct ids can therefore hand a
// drained id a fresh burst, never grow memory.
//
// Thread-safe. Time from the injected clock (milliseconds).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/config.h"
#include "common/clock.h"

namespace payorch::api {

struct RateDecision {
  bool allowed = true;
  // RateLimit-Limit (the burst), RateLimit-Remaining (whole tokens left), RateLimit-Reset
  // (seconds until the bucket is full again); Retry-After (seconds) when refused.
  std::vector<std::pair<std::string, std::string>> headers;
};

class RateLimiter {
 public:
  static constexpr size_t kDefaultMaxBuckets = 10'000;
  RateLimiter(RateLimit limit, const Clock* clock, size_t max_buckets = kDefaultMaxBuckets);
  [[nodiscard]] RateDecision Take(const std::string& key_id);
  // Key ids remembered now (at most max_buckets).
  [[nodiscard]] size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
    uint64_t touched = 0;  // order of last use, for eviction
  };
  void MakeRoomLocked(int64_t now);
  RateLimit limit_;
  const Clock* clock_;
  size_t max_buckets_;
  uint64_t touches_ = 0;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace payorch::api
