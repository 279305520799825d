#include "api/internal/auth.h"

#include <optional>
#include <string>
#include <utility>

namespace payorch::api::internal {

http::Response Authenticate(const http::Request& req, RateLimiter& limiter, KeyVerifier& verifier,
                            const AuthedHandler& handler) {
  const auto unauthorized = [] {
    http::Response r = http::Error(401, "unauthorized",
                                   "a valid API key is required: Authorization: Bearer pk_...");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  };
  const auto auth = req.Header("Authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return unauthorized();
  const std::string presented = auth->substr(7);
  const auto parsed = ParseKey(presented);
  if (!parsed) return unauthorized();
  RateDecision rate = limiter.Take(parsed->first);
  http::Response r;
  if (!rate.allowed) {
    r = http::Error(429, "rate_limited", "too many requests for this API key");
  } else if (std::optional<Principal> who = verifier.Verify(presented)) {
    r = handler(req, *who);
  } else {
    return unauthorized();
  }
  for (auto& header : rate.headers) r.headers.push_back(std::move(header));
  return r;
}

}  // namespace payorch::api::internal
