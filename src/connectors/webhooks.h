// Inbound gateway webhooks: POST /v1/webhooks/{processor} accepts a processor's signed
// notification about an operation and turns it into a RecordGatewayResult command (source
// "webhook") for the commands topic, so a payment waiting in processing is resolved
// without waiting for reconciliation. Payload and signature: docs/gateway-api.md.
//
// Contract:
//  - Signature: header "Payorch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//    "<t>.<body>" under the processor's secret>". Compared in constant time; a timestamp
//    more than tolerance_s from the clock is refused (replay protection). 401 otherwise.
//  - De-duplicated by (processor, event id): a delivery already appended is answered 200
//    {"duplicate": true} and appends nothing. The command id is
//    "webhook/<processor>/<event id>", so even a repeat that got past this memory (after a
//    restart) is de-duplicated by the writer.
//  - The command is appended through `append` (key = payment_id); if that fails the answer
//    is 503 and the event is not remembered, so the processor's retry appends it.
//  - Unknown processor: 404. Malformed body: 400. The secret is never logged or echoed.
//
//   WebhookOptions o;
//   o.secrets = {{"stripe", "whsec_..."}};
//   o.append = [&](const CommandEnvelope& c) { return producer.ProduceSync(...); };
//   auto receiver = RegisterWebhookRoutes(server, std::move(o));
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "common/clock.h"
#include "http/server.h"
#include "payments/commands/v1/commands.pb.h"

namespace payorch::connectors {

struct WebhookOptions {
  std::map<std::string, std::string> secrets;  // processor id -> signing secret
  // Appends one command; returns "" or an error.
  std::function<std::string(const ::payments::commands::v1::CommandEnvelope&)> append;
  const Clock* clock = nullptr;   // default: the system clock
  int64_t tolerance_s = 300;      // 0 = no timestamp check
  size_t remembered = 1'000'000;  // (processor, event id) pairs kept for de-duplication
};

struct WebhookProbe {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> bad_signature{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> append_failed{0};
};

class WebhookReceiver {
 public:
  explicit WebhookReceiver(WebhookOptions options);
  // The endpoint's logic, socket-free.
  [[nodiscard]] http::Response Handle(const http::Request& request);
  const WebhookProbe& probe() const { return probe_; }

 private:
  WebhookOptions options_;
  SystemClock system_clock_;
  WebhookProbe probe_;
  std::mutex mu_;
  std::set<std::pair<std::string, std::string>> seen_;  // appended or in flight
  std::deque<std::pair<std::string, std::string>> order_;
};

// Mounts POST /v1/webhooks/{processor}. The receiver lives as long as the returned pointer
// and the server's routes.
std::shared_ptr<WebhookReceiver> RegisterWebhookRoutes(http::Server& server,
                                                       WebhookOptions options);

// "t=<t>,v1=<hex>" for `body` signed with `secret` at unix time `t` (senders and tests).
[[nodiscard]] std::string SignWebhook(std::string_view secret, int64_t t, std::string_view body);

}  // namespace payorch::connectors
