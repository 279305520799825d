#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace payorch::api {

RateLimiter::RateLimiter(RateLimit limit, const Clock* clock, size_t max_buckets)
    : limit_(limit), clock_(clock), max_buckets_(std::max<size_t>(1, max_buckets)) {}

size_t RateLimiter::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

// Called with the map full: drops refilled buckets, else the least recently used one.
void RateLimiter::MakeRoomLocked(int64_t now) {
  const double full_after_ms =
      limit_.per_second > 0 ? limit_.burst * 1000.0 / limit_.per_second : 0.0;
  std::erase_if(buckets_, [&](const auto& kv) {
    return kv.second.tokens + (now - kv.second.at_ms) * limit_.per_second / 1000.0 >=
               limit_.burst ||
           now - kv.second.at_ms >= full_after_ms;
  });
  if (buckets_.size() < max_buckets_) return;
  auto oldest = std::min_element(
      buckets_.begin(), buckets_.end(),
      [](const auto& a, const auto& b) { return a.second.touched < b.second.touched; });
  buckets_.erase(oldest);
}

RateDecision RateLimiter::Take(const std::string& key_id) {
  const int64_t now = clock_->NowMs();
  double tokens = 0;
  bool allowed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.size() >= max_buckets_ && !buckets_.contains(key_id)) MakeRoomLocked(now);
    auto [it, fresh] = buckets_.try_emplace(key_id, Bucket{limit_.burst, now});
    Bucket& b = it->second;
    b.touched = ++touches_;
    if (!fresh && now > b.at_ms) {
      b.tokens = std::min(limit_.burst, b.tokens + (now - b.at_ms) * limit_.per_second / 1000.0);
      b.at_ms = now;
    }
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      allowed = true;
    }
    tokens = b.tokens;
  }
  RateDecision d;
  d.allowed = allowed;
  const auto secs = [&](double need) {
    return static_cast<int64_t>(std::ceil(std::max(0.0, need) / limit_.per_second));
  };
  d.headers = {{"RateLimit-Limit", std::to_string(static_cast<int64_t>(limit_.burst))},
               {"RateLimit-Remaining", std::to_string(static_cast<int64_t>(std::floor(tokens)))},
               {"RateLimit-Reset", std::to_string(secs(limit_.burst - tokens))}};
  if (!allowed)
    d.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, secs(1.0 - tokens))));
  return d;
}

}  // namespace payorch::api
