// The events of the merchant API (Stripe's Events API): every counted merchant-visible
// event of a merchant, recorded by the webhook feeder in the outbox's database in the same
// batch as its deliveries and checkpoints, kept `retention_ms` (30 days by default), listed
// newest first and retrieved by id. An event is the webhook body (DeliveryOf), so its `id`
// is the webhook's event_id and Payorch-Event-Id.
//
//   GET /v1/events?limit=&starting_after=&type=   {object: "list", data, has_more}
//   GET /v1/events/{id}                           the event, or 404 event_not_found
//
// Records, in the outbox's meta keys (written only by the feeder's thread):
//   ev/<merchant>\0<occurred ms:16>\0<sequence:20>\0<event id>  -> the event JSON
//   evid/<merchant>\0<event id>                                 -> its ev/ key
//   evt/<occurred ms:16>\0<merchant>\0<event id>                -> [ev/ key, evid/ key]
// The same event read again (after a crash) writes the same keys. Handlers only read.
//
//   std::vector<std::pair<std::string, std::string>> meta;
//   AppendEventRecord(envelope, delivery.body, &meta);   // then outbox.Enqueue(.., meta)
//   EventRetention retention(&outbox, &clock, 30 * kDayMs);
//   retention.MaybeSweep();                              // from the feeder's loop
//   http::Response r = ListEvents(outbox, request, "m_shop");
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "api/keys.h"
#include "common/clock.h"
#include "http/server.h"
#include "outbox/webhook_outbox.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::api::internal {

inline constexpr int64_t kDayMs = 86'400'000;

using MetaEntries = std::vector<std::pair<std::string, std::string>>;

// Adds the three records of event `e` with its JSON `body` to `meta`.
void AppendEventRecord(const ::payments::events::v1::EventEnvelope& e, const std::string& body,
                       MetaEntries* meta);

// Deletes the events that occurred before `now_ms - retention_ms`, oldest first, at most
// `max_events` of them (all three records of each). Returns how many, or -1 on an error.
int SweepExpiredEvents(outbox::WebhookOutbox& outbox, int64_t now_ms, int64_t retention_ms,
                       int max_events);

// The feeder's retention: a sweep of at most kMaxEvents at most once per kIntervalMs of
// `clock` (the first call sweeps).
class EventRetention {
 public:
  static constexpr int64_t kIntervalMs = 60'000;
  static constexpr int kMaxEvents = 1'000;
  EventRetention(outbox::WebhookOutbox* outbox, const Clock* clock, int64_t retention_ms)
      : outbox_(outbox), clock_(clock), retention_ms_(retention_ms) {}
  // Whether an event that occurred at `occurred_at_ms` is already past retention.
  [[nodiscard]] bool Expired(int64_t occurred_at_ms) const {
    return occurred_at_ms < clock_->NowMs() - retention_ms_;
  }
  // Sweeps if due; returns the events deleted (0 if not due, -1 on an error).
  int MaybeSweep();

 private:
  outbox::WebhookOutbox* outbox_;
  const Clock* clock_;
  int64_t retention_ms_;
  int64_t last_sweep_ms_ = 0;
  bool swept_ = false;
};

// The routes above as (path regex, handler of an authenticated merchant), for
// MerchantApi::Mount; `outbox()` is called per request. The id route accepts a '/'.
using EventsHandler = std::function<http::Response(const http::Request&, const Principal&)>;
[[nodiscard]] std::vector<std::pair<std::string, EventsHandler>> EventRoutes(
    std::function<const outbox::WebhookOutbox*()> outbox);

// GET /v1/events of `merchant`: newest first; limit 1..100 (10), starting_after (an event
// id of this merchant), type (exact, or a prefix ending in '*'); else 400 bad_parameter.
[[nodiscard]] http::Response ListEvents(const outbox::WebhookOutbox& outbox,
                                        const http::Request& request, const std::string& merchant);
// GET /v1/events/{id} of `merchant`: the event, or 404 event_not_found (also for another
// merchant's event).
[[nodiscard]] http::Response GetEvent(const outbox::WebhookOutbox& outbox, const std::string& id,
                                      const std::string& merchant);

}  // namespace payorch::api::internal
