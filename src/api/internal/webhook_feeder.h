// WebhookFeeder (internal): reads every events partition from its checkpoint in the
// webhook outbox, applies the epoch rule, turns each counted merchant-visible event of a
// merchant with a webhook endpoint into a delivery, and enqueues the deliveries together
// with the new checkpoints (one RocksDB batch): nothing is lost or queued twice across a
// crash. A fresh outbox starts at the beginning of the log.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "log/options.h"
#include "outbox/webhook_outbox.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::api::internal {

// "payment.captured", ... for a merchant-visible state change; nullopt for internal events
// and for refused commands (CommandRejected: no state changed).
[[nodiscard]] std::optional<std::string> WebhookType(
    const ::payments::events::v1::EventEnvelope& e);
// The delivery of a visible event: id "wh_<hash of event_id>", body JSON.
[[nodiscard]] outbox::WebhookDelivery DeliveryOf(const ::payments::events::v1::EventEnvelope& e,
                                                 const std::string& type);

class WebhookFeeder {
 public:
  WebhookFeeder(log::KafkaOptions kafka, outbox::WebhookOutbox* outbox,
                std::function<bool(const std::string& merchant)> has_endpoint);
  ~WebhookFeeder();
  [[nodiscard]] std::string Start();
  void Stop();

 private:
  log::KafkaOptions kafka_;
  outbox::WebhookOutbox* outbox_;
  std::function<bool(const std::string&)> has_endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace payorch::api::internal
