// WebhookFeeder (internal): reads every events partition from its checkpoint in the
// webhook outbox, applies the epoch rule, turns each counted merchant-visible event of a
// merchant with a webhook endpoint into a delivery, and enqueues the deliveries together
// with the new checkpoints (one RocksDB batch): nothing is lost or queued twice across a
// crash. A fresh outbox starts at the beginning of the log.
//
// Every counted visible event of any merchant (endpoint or not) is also recorded, in the
// same batch, for GET /v1/events (internal/events.h): its JSON is the delivery's body. The
// feeder's thread deletes events past `events_retention_ms` (a bounded sweep, at most once
// a minute of `clock`).
//
// Each delivery carries `data.object`: the PaymentIntent (or, for a refund event, the
// Refund) as it was right after the event. The feeder keeps its own read model for that:
// the projection's pure Projector over what it reads, its views (the only records it
// reads back) in the outbox's database under "pj/p/" (written in the same batch as the
// deliveries and checkpoints), so a snapshot is the state at the event, not whatever the
// projection shows when it is sent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/config.h"
#include "common/clock.h"
#include "log/options.h"
#include "log/shared_reader.h"
#include "outbox/webhook_outbox.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::api::internal {

// "payment.captured", ... for a merchant-visible state change; nullopt for internal events
// and for refused commands (CommandRejected: no state changed).
[[nodiscard]] std::optional<std::string> WebhookType(
    const ::payments::events::v1::EventEnvelope& e);
// The webhook, if any, of `e` given the payment's status right after it (the feeder's
// model): WebhookType(e), except that the void of one step of a split payment that leaves
// another step held is not announced. `payment.voided` is sent once, when the payment's
// status becomes voided, with the payment as it is then.
[[nodiscard]] std::optional<std::string> WebhookTypeAfter(
    const ::payments::events::v1::EventEnvelope& e, ::payments::events::v1::PaymentStatus after);
// Every type WebhookType can return.
[[nodiscard]] const std::vector<std::string>& WebhookTypes();
// The delivery of a visible event: id "wh_<hash of event_id>", body JSON (the event)
// {id, object: "event", created, event_id, type, occurred_at_ms, merchant_id, payment_id,
// data: {object}}, where id = event_id and created = occurred_at_ms / 1000 (seconds).
[[nodiscard]] outbox::WebhookDelivery DeliveryOf(const ::payments::events::v1::EventEnvelope& e,
                                                 const std::string& type,
                                                 const nlohmann::json& object);
// The same with the object as JSON text (written into the body as it is).
[[nodiscard]] outbox::WebhookDelivery DeliveryOfJson(const ::payments::events::v1::EventEnvelope& e,
                                                     const std::string& type,
                                                     std::string_view object_json);

// The webhook outbox of the merchant API in `dir`: its endpoints and retry policy from
// `config`.
[[nodiscard]] outbox::WebhookOutboxOptions OutboxOptions(const ApiConfig& config, std::string dir,
                                                         const Clock* clock);

class WebhookFeeder {
 public:
  // `metadata(payment_id)`: the payment's metadata for the object (null: none). `clock`
  // (default: the system's) dates the events' retention. With `shared` (started after
  // Start()), it reads through a subscription of that reader, not a consumer of its own.
  WebhookFeeder(log::KafkaOptions kafka, outbox::WebhookOutbox* outbox,
                std::function<bool(const std::string& merchant)> has_endpoint,
                std::function<nlohmann::json(const std::string& payment_id)> metadata = {},
                const Clock* clock = nullptr, int64_t events_retention_ms = 30 * 86'400'000LL,
                log::SharedReader* shared = nullptr);
  ~WebhookFeeder();
  [[nodiscard]] std::string Start();
  void Stop();

 private:
  log::KafkaOptions kafka_;
  log::SharedReader* shared_;
  outbox::WebhookOutbox* outbox_;
  std::function<bool(const std::string&)> has_endpoint_;
  std::function<nlohmann::json(const std::string&)> metadata_;
  std::unique_ptr<Clock> own_clock_;
  const Clock* clock_;
  int64_t events_retention_ms_;
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // Stop() ends the back-off after a failed poll at once
  std::thread thread_;
};

}  // namespace payorch::api::internal
