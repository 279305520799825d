#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace payorch::api {

RateLimiter::RateLimiter(RateLimit limit, const Clock* clock) : limit_(limit), clock_(clock) {}

RateDecision RateLimiter::Take(const std::string& key_id) {
  const int64_t now = clock_->NowMs();
  double tokens = 0;
  bool allowed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(key_id, Bucket{limit_.burst, now});
    Bucket& b = it->second;
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
