// RateLimiter: a token bucket per API key (capacity `burst`, refilled at `per_second`),
// and the conventional response headers (IETF draft "RateLimit header fields for HTTP").
//
//   RateLimiter limiter({.per_second = 100, .burst = 200}, &clock);
//   RateDecision d = limiter.Take(key_id);
//   for (auto& h : d.headers) response.headers.push_back(h);
//   if (!d.allowed) return 429;   // d.headers carries Retry-After too
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
  RateLimiter(RateLimit limit, const Clock* clock);
  [[nodiscard]] RateDecision Take(const std::string& key_id);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  RateLimit limit_;
  const Clock* clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace payorch::api
