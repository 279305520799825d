// MerchantApi: the merchant-facing REST API over the log (docs/merchant-api.md,
// schemas/merchant-api.openapi.yaml).
//
//   POST /v1/payments                      create (confirm: true to authorize at once)
//   POST /v1/payments/{id}/confirm|capture|void|cancel
//   POST /v1/payments/{id}/refunds          (answers the payment)
//   POST /v1/refunds                       {payment_intent, amount?}: the Refund object
//   GET  /v1/refunds/{id}, GET /v1/refunds?payment_intent=
//   GET  /v1/payments/{id}
//   GET  /v1/payments?created_from=&created_to=&status=&limit=&cursor=
//   GET  /v1/webhooks/dead                 parked webhook deliveries
//   POST /v1/webhooks/dead/{id}/resend
//   GET  /v1/events?limit=&starting_after=&type=, GET /v1/events/{id}   (internal/events.h)
//   POST /v1/checkout, GET /v1/orders/{id}, POST /v1/invoices, GET /v1/invoices/{id},
//   POST /v1/invoices/{id}/payments|supplementary|cancel|close         (internal/commerce.h)
//
// Every request carries "Authorization: Bearer pk_..." (api/keys.h); a key acts for one
// merchant only, and another merchant's payment answers 404 as if it did not exist. Each
// key is rate limited (token bucket, api/rate_limiter.h). A POST may carry an
// Idempotency-Key (replayable for idempotency_window_ms; without one, not replayable): the
// command goes to the commands topic, and the answer waits (at most wait_ms) for the
// decision on the events topic and for the projection to show it: 201/200 with the
// payment as a PaymentIntent object (api/internal/objects.h), 202 while a gateway outcome is
// pending, 409 (idempotency or state conflict), 422 (validation, with field details), 429 (rate
// limited), 503 (log unreachable: the command was not acknowledged; or `overloaded`: a create
// refused with Retry-After, docs/overload.md). The same key with the same request answers the
// stored response again. Every answer carries Request-Id and Payorch-Version; errors carry a
// Stripe-style type and param (the public field name).
//
//   MerchantApi api({.data_dir = dir, .kafka = kafka, .config = cfg, .store = &store});
//   if (auto err = api.Start(); !err.empty()) ...
//   http::Server server({.threads = 32});
//   api.Mount(server);
//   (void)server.Start("127.0.0.1:8080");
//   ...
//   server.Stop(); api.Stop();
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/config.h"
#include "common/clock.h"
#include "http/server.h"
#include "log/options.h"
#include "log/shared_reader.h"
#include "outbox/webhook_outbox.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"
#include "projection/runner.h"
#include "projection/store.h"

namespace payorch::api {

struct MerchantApiOptions {
  // DATA_DIR: keys in DATA_DIR/api/keys.jsonl, stored responses in DATA_DIR/api/responses,
  // the webhook outbox in DATA_DIR/api/webhooks.
  std::string data_dir;
  log::KafkaOptions kafka;
  ApiConfig config;
  // The projection the payments are read from, and its runner, not yet running (both must
  // outlive the API): the API's events follower observes the runner's batches
  // (ProjectionRunner::ObserveBatches) instead of reading the log itself.
  const projection::ProjectionStore* store = nullptr;
  projection::ProjectionRunner* runner = nullptr;
  // Above this many records behind the log (the runner's lag()), GETs answer 503.
  int64_t max_lag = 10'000;
  const Clock* clock = nullptr;  // default: system clock
  bool webhooks = true;          // run the webhook feeder and delivery thread
  // Success-rate routing (connectors/success_rate.h): `on_event` is fed every event the
  // API's follower reads, and `stamp` fills a CreatePayment's processor_preference before
  // it is appended. Both optional.
  std::function<void(const ::payments::events::v1::EventEnvelope&)> on_event;
  std::function<void(::payments::commands::v1::CommandEnvelope*)> stamp;
  // Admission (runtime/admission.h), optional: while it returns true, a create answers 503
  // `overloaded` with Retry-After: retry_after_s, and nothing is appended.
  std::function<bool()> overloaded;
  int retry_after_s = 2;
  // Whether the merchant configuration has a merchant: the admin API creates keys only for
  // those (null: it creates none).
  std::function<bool(const std::string& merchant)> merchant_configured;
  // The merchant's configuration (its creditor_account for ISO 20022 exports), or null.
  std::function<const ::payments::config::v1::MerchantConfig*(const std::string& merchant)>
      find_merchant;
  // The process's shared reader of the events topic (log/shared_reader.h), not yet
  // started, or null: the webhook feeder subscribes to it in Start() instead of fetching
  // every event with a consumer of its own.
  log::SharedReader* events_reader = nullptr;
};

// The HTTP server the merchant API is built for (docs/http.md, "Threads"). Its workers run
// handlers that never wait (a POST's decision and a key's argon2id verification come back
// through a Reply), so two, one per core of the machine it is sized for: more only add
// context switches. One I/O thread. The routes that wait for their aggregates (invoices,
// orders, checkout, ISO 20022) have a pool of their own.
inline constexpr int kApiWorkerThreads = 2;
inline constexpr int kApiIoThreads = 1;
inline constexpr int kApiBlockingThreads = 16;

// The merchant API's error shape (type, param, public field names, Payorch-Version) for an
// error the HTTP layer answers itself on the API's port: http::ServerOptions::shape_error.
[[nodiscard]] http::Response ShapeError(http::Response r);

// A mounted route: method and the OpenAPI path template.
struct RouteSpec {
  std::string method;
  std::string path;
};

class MerchantApi {
 public:
  explicit MerchantApi(MerchantApiOptions options);
  ~MerchantApi();
  MerchantApi(const MerchantApi&) = delete;
  MerchantApi& operator=(const MerchantApi&) = delete;

  // Opens the stores, connects to the log, starts the follower and webhooks. "" or error.
  [[nodiscard]] std::string Start();
  // Registers the routes above on `server` (call before server.Start()).
  void Mount(http::Server& server);
  void Stop();

  // Every route Mount registers, as OpenAPI paths.
  [[nodiscard]] static std::vector<RouteSpec> Routes();

  outbox::WebhookOutbox* webhook_outbox();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::api
