// WebhookOutbox: durable, retried, signed deliveries of merchant-visible events to the
// merchants' webhook URLs, kept in RocksDB so a restart (even SIGKILL) loses none.
//
// Contract:
// - Enqueue() writes deliveries and the caller's checkpoints (e.g. the events offsets the
//   deliveries came from) in one atomic WriteBatch. A delivery id already queued, sent or
//   dead is ignored, so re-reading the log after a crash enqueues nothing twice.
// - A delivery is POSTed until the endpoint answers 2xx. Between attempts it waits
//   initial_ms * 2^(attempt-1), capped at max_interval_ms; once give_up_after_ms have
//   passed since it was enqueued it is parked in the dead-letter list (ListDead, Resend).
// - Every attempt is signed (SignatureHeader): HMAC-SHA256 of "<unix seconds>.<body>"
//   with the merchant's secret, hex, in `Payorch-Signature: t=<seconds>,v1=<hex>`.
// - Time comes from the injected clock; the sender is injectable (tests).
// - Meta entries (the caller's keys, opaque here) can also be scanned in key order and
//   deleted (ScanMeta, DeleteMeta), e.g. for an index the caller keeps next to its
//   checkpoints.
// - Errors are payorch::Status values (common/status.h); a RocksDB error keeps RocksDB's
//   code as native_code. Enqueue or DeleteMeta before a successful Open: kFailedPrecondition.
//
//   WebhookOutbox outbox({.dir = dir, .endpoints = [&](auto& m) { return cfg.Find(m); }});
//   if (Status s = outbox.Open(); !s.ok()) ...
//   outbox.Start();                                 // delivers on its own thread
//   Status s = outbox.Enqueue({{.id = "wh_..", .merchant_id = "m_1", .body = json}},
//                             {{"c/0", pos}});
//   ...
//   outbox.Stop();
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace payorch::outbox {

struct WebhookEndpoint {
  std::string url;
  std::string secret;
};

struct WebhookRetryPolicy {
  int64_t initial_ms = 1'000;
  int64_t max_interval_ms = 3'600'000;        // 1 h
  int64_t give_up_after_ms = 72 * 3'600'000;  // 3 days
};

struct WebhookDelivery {
  std::string id{};  // unique per event (derived from its event_id)
  std::string merchant_id{};
  std::string event_id{};
  std::string body{};  // JSON
  int64_t created_at_ms = 0;
  int attempts = 0;
  int64_t next_at_ms = 0;
  std::string last_error{};
};

// What one POST got back: HTTP status (0 when no answer) and an error text.
struct SendResult {
  int status = 0;
  std::string error;
};
using WebhookSender = std::function<SendResult(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body)>;

struct WebhookOutboxOptions {
  std::string dir;
  // The endpoint of a merchant, nullopt when it has none (its deliveries wait).
  std::function<std::optional<WebhookEndpoint>(const std::string& merchant_id)> endpoints;
  WebhookRetryPolicy retry;
  const Clock* clock = nullptr;  // default: system clock
  WebhookSender sender;          // default: libcurl POST, 10 s timeout
  int max_per_round = 200;       // deliveries attempted per scan
};

// "t=<unix_seconds>,v1=<hex HMAC-SHA256(secret, "<unix_seconds>.<body>")>".
[[nodiscard]] std::string SignatureHeader(const std::string& secret, int64_t unix_seconds,
                                          const std::string& body);

class WebhookOutbox {
 public:
  explicit WebhookOutbox(WebhookOutboxOptions options);
  ~WebhookOutbox();  // Stop()s and closes
  WebhookOutbox(const WebhookOutbox&) = delete;
  WebhookOutbox& operator=(const WebhookOutbox&) = delete;

  // Opens or creates the store.
  [[nodiscard]] Status Open();
  // Starts / stops the delivery thread.
  void Start();
  void Stop();

  // Queues new deliveries (due at once) and writes `meta` (key, value) in the same batch.
  [[nodiscard]] Status Enqueue(const std::vector<WebhookDelivery>& deliveries,
                               const std::vector<std::pair<std::string, std::string>>& meta);
  [[nodiscard]] std::optional<std::string> GetMeta(const std::string& key) const;
  // At most `limit` meta entries whose key starts with `prefix`, in key order (descending
  // when `reverse`), strictly after the key `after` in that order ("" = from the first, or
  // the last). One consistent view of the store.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> ScanMeta(const std::string& prefix,
                                                                          const std::string& after,
                                                                          size_t limit,
                                                                          bool reverse) const;
  // Deletes meta keys (absent ones are no error) in one batch.
  [[nodiscard]] Status DeleteMeta(const std::vector<std::string>& keys);

  // One delivery round (what the thread does): attempts every due delivery. Returns how
  // many were attempted.
  int DeliverDue();

  // Pending (queued) and dead deliveries of one merchant ("" = all).
  [[nodiscard]] std::vector<WebhookDelivery> ListPending(const std::string& merchant_id) const;
  [[nodiscard]] std::vector<WebhookDelivery> ListDead(const std::string& merchant_id) const;
  // Moves a dead delivery of `merchant_id` back to the queue, due now, attempts reset.
  // False if there is no such dead delivery.
  [[nodiscard]] bool Resend(const std::string& merchant_id, const std::string& id);

 private:
  void Loop();
  std::string Attempt(WebhookDelivery& d);

  WebhookOutboxOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Clock> own_clock_;
  mutable std::mutex mu_;  // serialises read-modify-write of deliveries
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace payorch::outbox
