#include "api/internal/auth.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "api/internal/answers.h"

namespace payorch::api::internal {

namespace {

http::Response Unauthorized() {
  http::Response r =
      http::Error(401, "unauthorized", "a valid API key is required: Authorization: Bearer pk_...");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// The key check's first step, which never waits: a key of the right form, and a token of
// its id's bucket. The answer when the request is refused here (401, 429); else nullopt,
// with the presented key and the RateLimit headers.
std::optional<http::Response> CheckForm(const http::Request& req, RateLimiter& limiter,
                                        std::string* presented, RateDecision* rate) {
  const auto auth = req.Header("Authorization");
  if (!auth || auth->rfind("Bearer ", 0) != 0) return Unauthorized();
  *presented = auth->substr(7);
  const auto parsed = ParseKey(*presented);
  if (!parsed) return Unauthorized();
  *rate = limiter.Take(parsed->first);
  if (rate->allowed) return std::nullopt;
  http::Response r = http::Error(429, "rate_limited", "too many requests for this API key");
  for (auto& header : rate->headers) r.headers.push_back(std::move(header));
  return r;
}

}  // namespace

http::Response Authenticate(const http::Request& req, RateLimiter& limiter, KeyVerifier& verifier,
                            const AuthedHandler& handler) {
  std::string presented;
  RateDecision rate;
  if (auto refused = CheckForm(req, limiter, &presented, &rate)) return std::move(*refused);
  std::optional<Principal> who = verifier.Verify(presented);
  if (!who) return Unauthorized();
  http::Response r = handler(req, *who);
  for (auto& header : rate.headers) r.headers.push_back(std::move(header));
  return r;
}

void AuthenticateAsync(const http::Request& req, RateLimiter& limiter, KeyVerifier& verifier,
                       const http::Reply& reply, AuthedAsyncHandler handler, int retry_after_s) {
  std::string presented;
  RateDecision rate;
  if (auto refused = CheckForm(req, limiter, &presented, &rate)) {
    return reply.Send(Finalize(std::move(*refused)));
  }
  // The reply the handler (or the 503) answers through: with the RateLimit headers. Made
  // only when it will answer: a Reply dropped unanswered is a bug the server logs.
  const auto with_rate = [headers = std::move(rate.headers)](http::Response r) {
    r.headers.insert(r.headers.end(), headers.begin(), headers.end());
    return Finalize(std::move(r));
  };
  std::optional<Principal> who;
  if (verifier.VerifyNow(presented, &who)) {  // cached: on this worker, no hop
    if (!who) return reply.Send(Finalize(Unauthorized()));
    return handler(req, *who, reply.Wrapped(with_rate));
  }
  // argon2id on the verifier's threads, then the handler on a worker: no worker waits.
  // What the verification's callback keeps alive meanwhile: a copy of the request.
  size_t held = req.body.size() + req.path.size() + 1024;
  for (const auto& [name, value] : req.headers) held += name.size() + value.size();
  verifier.VerifyLater(
      std::move(presented), held,
      [req = std::make_shared<const http::Request>(req), reply, with_rate,
       handler = std::move(handler), retry_after_s](std::optional<Principal> who, bool busy) {
        if (busy) {
          http::Response r = http::Error(
              503, "overloaded",
              "too many API key verifications are waiting; nothing was done, retry after "
              "Retry-After seconds");
          r.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after_s)));
          return reply.Send(with_rate(std::move(r)));
        }
        if (!who) return reply.Send(Finalize(Unauthorized()));
        reply.Post([req, answer = reply.Wrapped(with_rate), handler, who = *who] {
          handler(*req, who, answer);
        });
      });
}

}  // namespace payorch::api::internal
