#include "api/internal/events.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api/internal/webhook_feeder.h"

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;
using json = nlohmann::json;

namespace {

constexpr char kByMerchant[] = "ev/";
constexpr char kById[] = "evid/";
constexpr char kByTime[] = "evt/";
constexpr int kDefaultLimit = 10;
constexpr int kMaxLimit = 100;
constexpr size_t kMaxEventIdLength = 600;
// Events read per scan while a type filter skips some, and at most per request: a page
// filtered by a rare type stops there (has_more false), so a request's cost is bounded.
constexpr size_t kFilteredScan = 200;
constexpr size_t kMaxScannedPerRequest = 10'000;

std::string Padded(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(v));
  return buf;
}

std::string Millis(int64_t ms) {
  return Padded(static_cast<uint64_t>(std::max<int64_t>(ms, 0)), 16);
}

std::string MerchantPrefix(const std::string& merchant) {
  return std::string(kByMerchant).append(merchant).append(1, '\0');
}

std::string IdKey(const std::string& merchant, const std::string& event_id) {
  return std::string(kById).append(merchant).append(1, '\0').append(event_id);
}

// The value of an evt/ record: the other two keys, the first prefixed by its length.
std::string JoinKeys(const std::string& primary, const std::string& by_id) {
  return std::to_string(primary.size()) + ":" + primary + by_id;
}

std::optional<std::pair<std::string, std::string>> SplitKeys(const std::string& value) {
  size_t length = 0;
  const char* end = value.data() + value.size();
  auto [p, ec] = std::from_chars(value.data(), end, length);
  if (ec != std::errc() || p == end || *p != ':' || length > static_cast<size_t>(end - p - 1))
    return std::nullopt;
  return std::make_pair(std::string(p + 1, length), std::string(p + 1 + length, end));
}

http::Response BadParameter(const std::string& name, const std::string& message) {
  return http::Error(400, "bad_parameter", message, {{"parameter", name}});
}

http::Response NotFound() { return http::Error(404, "event_not_found", "no such event"); }

// The event if `body` is one of `merchant`'s (a second check next to the key's prefix).
std::optional<json> OwnEvent(const std::optional<std::string>& body, const std::string& merchant) {
  if (!body) return std::nullopt;
  json event = json::parse(*body, nullptr, false);
  if (!event.is_object() || event.value("merchant_id", "") != merchant) return std::nullopt;
  return event;
}

// `pattern`: an exact type, or a prefix of types ending in '*' ("payment.*").
bool TypeMatches(const std::string& pattern, const std::string& type) {
  if (pattern.empty()) return true;
  if (pattern.back() != '*') return type == pattern;
  return std::string_view(type).starts_with(
      std::string_view(pattern).substr(0, pattern.size() - 1));
}

bool ValidType(const std::string& pattern) {
  if (pattern.empty() || pattern.find('*') < pattern.size() - 1) return false;
  const auto& types = WebhookTypes();
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& t) { return TypeMatches(pattern, t); });
}

struct EventsQuery {
  size_t limit = kDefaultLimit;
  std::string after;  // the ev/ key of starting_after ("" = from the newest)
  std::string type;   // "" = every type
};

std::optional<int> ParseLimit(const std::string& v) {
  int limit = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  if (limit < 1 || limit > kMaxLimit) return std::nullopt;
  return limit;
}

std::optional<http::Response> ParseQuery(const outbox::WebhookOutbox& outbox,
                                         const http::Request& req, const std::string& merchant,
                                         EventsQuery* q) {
  for (const auto& [k, _] : req.query)
    if (k != "limit" && k != "starting_after" && k != "type")
      return BadParameter(k, "unknown query parameter " + k);
  if (const auto v = req.Query("limit")) {
    const auto limit = ParseLimit(*v);
    if (!limit) return BadParameter("limit", "limit must be an integer in 1..100");
    q->limit = static_cast<size_t>(*limit);
  }
  if (const auto v = req.Query("starting_after")) {
    const auto key =
        v->size() <= kMaxEventIdLength ? outbox.GetMeta(IdKey(merchant, *v)) : std::nullopt;
    if (!key) return BadParameter("starting_after", "starting_after is not an event id");
    q->after = *key;
  }
  if (const auto v = req.Query("type")) {
    if (!ValidType(*v))
      return BadParameter("type", "type is not an event type (e.g. payment.succeeded, payment.*)");
    q->type = *v;
  }
  return std::nullopt;
}

}  // namespace

void AppendEventRecord(const ev::EventEnvelope& e, const std::string& body, MetaEntries* meta) {
  const std::string ms = Millis(e.occurred_at_ms());
  const std::string& merchant = e.merchant_id();
  std::string primary = MerchantPrefix(merchant);
  primary.append(ms).append(1, '\0').append(Padded(e.sequence(), 20)).append(1, '\0');
  primary.append(e.event_id());
  std::string by_id = IdKey(merchant, e.event_id());
  std::string by_time = std::string(kByTime).append(ms).append(1, '\0').append(merchant);
  by_time.append(1, '\0').append(e.event_id());
  meta->emplace_back(std::move(by_time), JoinKeys(primary, by_id));
  meta->emplace_back(std::move(by_id), primary);
  meta->emplace_back(std::move(primary), body);
}

int SweepExpiredEvents(outbox::WebhookOutbox& outbox, int64_t now_ms, int64_t retention_ms,
                       int max_events) {
  // evt/ keys of events that occurred before the cutoff sort below it.
  const std::string cutoff = kByTime + Millis(now_ms - retention_ms);
  std::vector<std::string> doomed;
  int events = 0;
  for (const auto& [key, value] :
       outbox.ScanMeta(kByTime, "", static_cast<size_t>(std::max(max_events, 0)), false)) {
    if (key >= cutoff) break;
    doomed.push_back(key);
    if (auto keys = SplitKeys(value)) {
      doomed.push_back(std::move(keys->first));
      doomed.push_back(std::move(keys->second));
    }
    ++events;
  }
  if (doomed.empty()) return 0;
  return outbox.DeleteMeta(doomed).ok() ? events : -1;
}

int EventRetention::MaybeSweep() {
  const int64_t now = clock_->NowMs();
  if (swept_ && now - last_sweep_ms_ < kIntervalMs) return 0;
  swept_ = true;
  last_sweep_ms_ = now;
  return SweepExpiredEvents(*outbox_, now, retention_ms_, kMaxEvents);
}

http::Response ListEvents(const outbox::WebhookOutbox& outbox, const http::Request& request,
                          const std::string& merchant) {
  EventsQuery q;
  if (auto refused = ParseQuery(outbox, request, merchant, &q)) return *refused;
  // Newest first: the merchant's ev/ keys in descending order, one more than a page to
  // know whether there is more.
  const size_t scan = q.type.empty() ? q.limit + 1 : kFilteredScan;
  json data = json::array();
  bool more = false;
  size_t scanned = 0;
  for (std::string after = q.after; !more && scanned < kMaxScannedPerRequest; scanned += scan) {
    const auto chunk = outbox.ScanMeta(MerchantPrefix(merchant), after, scan, true);
    for (const auto& [key, body] : chunk) {
      after = key;
      auto event = OwnEvent(body, merchant);
      if (!event || !TypeMatches(q.type, event->value("type", ""))) continue;
      more = data.size() == q.limit;
      if (more) break;
      data.push_back(std::move(*event));
    }
    if (chunk.size() < scan) break;
  }
  return http::Json(200, {{"object", "list"}, {"data", std::move(data)}, {"has_more", more}});
}

http::Response GetEvent(const outbox::WebhookOutbox& outbox, const std::string& id,
                        const std::string& merchant) {
  if (id.empty() || id.size() > kMaxEventIdLength) return NotFound();
  const auto key = outbox.GetMeta(IdKey(merchant, id));
  const auto event = OwnEvent(key ? outbox.GetMeta(*key) : std::nullopt, merchant);
  if (!event || event->value("id", "") != id) return NotFound();
  return http::Json(200, *event);
}

std::vector<std::pair<std::string, EventsHandler>> EventRoutes(
    std::function<const outbox::WebhookOutbox*()> outbox) {
  return {{"/v1/events",
           [outbox](const http::Request& r, const Principal& w) {
             return ListEvents(*outbox(), r, w.merchant_id);
           }},
          {"/v1/events/(.+)", [outbox](const http::Request& r, const Principal& w) {
             return GetEvent(*outbox(), r.path_params[0], w.merchant_id);
           }}};
}

}  // namespace payorch::api::internal
