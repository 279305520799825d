// Authentication of the merchant API's requests: the API key in `Authorization: Bearer
// pk_...`, rate limited per key id (rate_limiter.h) before its secret is checked
// (keys.h), so a flood of wrong secrets for one key id costs one argon2id verification per
// token, not one per request.
//
//   http::Response r = Authenticate(req, limiter, verifier, [&](auto& req, auto& who) {
//     return handler(req, who);   // who.merchant_id is the key's merchant
//   });
#pragma once

#include <functional>

#include "api/keys.h"
#include "api/rate_limiter.h"
#include "http/server.h"

namespace payorch::api::internal {

using AuthedHandler = std::function<http::Response(const http::Request&, const Principal&)>;

// 401 `unauthorized` (with WWW-Authenticate, no RateLimit headers) for a missing, malformed,
// unknown, revoked or wrong key; 429 `rate_limited` when the key id's bucket is empty;
// else `handler`'s answer. Every answer after the key id was read carries the RateLimit
// headers.
[[nodiscard]] http::Response Authenticate(const http::Request& req, RateLimiter& limiter,
                                          KeyVerifier& verifier, const AuthedHandler& handler);

}  // namespace payorch::api::internal
