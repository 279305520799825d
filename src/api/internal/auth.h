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

using AuthedAsyncHandler =
    std::function<void(const http::Request&, const Principal&, const http::Reply&)>;
// Authenticate() for a route that answers through a Reply, holding no thread while a key
// is verified: a cached key runs `handler` at once on this thread; any other is verified on
// the verifier's own threads (KeyVerifier::VerifyLater) and `handler` then runs on a
// worker (Reply::Post). When max_queued_verifications are waiting, the answer is 503
// `overloaded` with Retry-After: retry_after_s. Every answer is Finalize()d; those sent
// through the Reply `handler` gets carry the RateLimit headers.
void AuthenticateAsync(const http::Request& req, RateLimiter& limiter, KeyVerifier& verifier,
                       const http::Reply& reply, AuthedAsyncHandler handler, int retry_after_s);

}  // namespace payorch::api::internal
