// ApiConfig: settings of the merchant API (`payorch api`, `payorch run --merchant-api`),
// from a YAML file given with --api-config (docs/merchant-api.md shows every field).
//
//   ApiConfig config;
//   if (auto err = LoadApiConfig("api.yaml", &config); !err.empty()) { exit 2 }
//
//   wait_ms: 2000                # a POST waits this long for the outcome, then 202
//   append_timeout_ms: 2000      # the log must acknowledge a command by then, else 503
//   key_cache_ttl_ms: 60000      # verified API keys are trusted this long without argon2
//   idempotency_window_ms: 86400000   # an Idempotency-Key is kept (replayable) this long
//   rate_limit: {per_second: 100, burst: 200}   # token bucket per API key
//   events_retention_days: 30    # GET /v1/events keeps an event this long
//   admin_token_env: PAYORCH_ADMIN_TOKEN   # the operator token of /v1/admin/ (none: off)
//   webhooks:
//     retry: {initial_ms: 1000, max_interval_ms: 3600000, give_up_after_ms: 259200000}
//     endpoints:
//       m_shop: {url: "https://shop.example/hooks", secret_env: SHOP_WEBHOOK_SECRET}
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "outbox/webhook_outbox.h"

namespace payorch::api {

struct RateLimit {
  double per_second = 100;
  double burst = 200;
};

struct ApiConfig {
  int64_t wait_ms = 2'000;
  int64_t append_timeout_ms = 2'000;
  int64_t key_cache_ttl_ms = 60'000;
  // A stored response (Idempotency-Key) is replayed for this long after its request, then
  // expired (ResponseStore::Sweep); 24 h like Stripe.
  int64_t idempotency_window_ms = 86'400'000;
  RateLimit rate_limit;
  // GET /v1/events lists an event for this long after it occurred, then it is deleted.
  int64_t events_retention_days = 30;
  // The operator token of the key administration routes (internal/admin.h), read from the
  // environment variable `admin_token_env` names; at least 32 bytes. Empty: the admin
  // routes answer 404.
  std::string admin_token;
  outbox::WebhookRetryPolicy retry;
  std::map<std::string, outbox::WebhookEndpoint> webhooks;  // by merchant id
};

// Reads `path` (YAML) into *config, over its defaults. "" or a one-line error naming the
// field. An empty path leaves the defaults.
[[nodiscard]] std::string LoadApiConfig(const std::string& path, ApiConfig* config);

}  // namespace payorch::api
