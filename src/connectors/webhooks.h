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
//  - The command is appended through `append` (key = payment_id), which reports the log's
//    acknowledgement later, to a callback: no thread waits for the log. If the append
//    fails (or its caller's deadline passes first) the answer is 503 and the event is not
//    remembered, so the processor's retry appends it.
//  - Unknown processor: 404. Malformed body: 400. The secret is never logged or echoed.
//
//   WebhookOptions o;
//   o.secrets = {{"stripe", "whsec_..."}};
//   o.append = [&](const CommandEnvelope& c, auto done) { appender.AppendAsync(..., done); };
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
#include <optional>
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
  // Appends one command and calls `done` exactly once, from any thread, with "" once the
  // log acknowledged it or why not. It must not wait for the log: the answer is sent from
  // `done`. (payorch run: a log::Appender with a 10 s deadline, app/internal/webhooks.cc.)
  std::function<void(const ::payments::commands::v1::CommandEnvelope&,
                     std::function<void(const std::string& error)> done)>
      append;
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
  // The endpoint's logic, socket-free: `answer` gets the response once, on this thread
  // (refusals) or on the thread that runs the append's `done`. The receiver must outlive
  // the appends it started.
  void Handle(const http::Request& request, std::function<void(http::Response)> answer);
  const WebhookProbe& probe() const { return probe_; }

 private:
  // The refusal or duplicate answer, or nullopt with the command to append and its
  // (processor, event id), now remembered as in flight.
  std::optional<http::Response> Prepare(const http::Request& request,
                                        ::payments::commands::v1::CommandEnvelope* command,
                                        std::pair<std::string, std::string>* seen_id);
  // Remembers `id` once appended, forgets it otherwise; the answer.
  http::Response Settle(const std::pair<std::string, std::string>& id, const std::string& error);
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
