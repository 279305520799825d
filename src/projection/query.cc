#include "projection/query.h"

#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <string>

#include "projection/internal/keys.h"
#include "projection/internal/time.h"
#include "projection/lag.h"

namespace payorch::projection {

namespace {

namespace ev = ::payments::events::v1;
using nlohmann::json;

json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string text;
  // Deliberately unchecked: it fails only for an invalid message, and ours are built here.
  (void)google::protobuf::util::MessageToJsonString(message, &text, o);
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

http::Response BadParam(std::string_view name, std::string_view message) {
  return http::Error(400, "invalid_argument", std::string(name) + ": " + std::string(message),
                     {{"parameter", name}});
}

std::string Hex(std::string_view in) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view in) {
  if (in.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < in.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(in.data() + i, in.data() + i + 2, v, 16);
    if (ec != std::errc() || p != in.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// A cursor is the hex of the index key suffix of the last entry returned:
// <20 digits>\0<payment_id>.
std::optional<std::string> DecodeCursor(std::string_view cursor) {
  if (cursor.size() > 2 * 200) return std::nullopt;
  std::optional<std::string> raw = Unhex(cursor);
  if (!raw || raw->size() < 22 || (*raw)[20] != '\0') return std::nullopt;
  for (size_t i = 0; i < 20; ++i) {
    if ((*raw)[i] < '0' || (*raw)[i] > '9') return std::nullopt;
  }
  if (raw->find('\0', 21) != std::string::npos) return std::nullopt;
  return raw;
}

bool HasPrefix(const ProjectionStore& store, const std::string& prefix) {
  bool found = false;
  store.Scan(prefix, prefix, [&](std::string_view, std::string_view) {
    found = true;
    return false;
  });
  return found;
}

bool MerchantKnown(const ProjectionStore& store, std::string_view merchant) {
  return HasPrefix(store, internal::MerchantIndexPrefix(merchant));
}

bool ValidId(std::string_view id) { return !id.empty() && id.size() <= 255; }

http::Response ListPayments(const ProjectionStore& store, const http::Request& req) {
  const std::string& merchant = req.path_params.at(0);
  if (!ValidId(merchant)) return BadParam("merchant_id", "must be 1 to 255 bytes");
  int64_t from = 0;
  int64_t to = INT64_MAX;
  if (auto v = req.Query("from")) {
    auto t = internal::ParseTime(*v);
    if (!t) return BadParam("from", "not a time (ms since epoch, YYYY-MM-DD or RFC 3339 UTC)");
    from = *t;
  }
  if (auto v = req.Query("to")) {
    auto t = internal::ParseTime(*v);
    if (!t) return BadParam("to", "not a time (ms since epoch, YYYY-MM-DD or RFC 3339 UTC)");
    to = *t;
  }
  if (from > to) return BadParam("from", "is after 'to'");
  int limit = kDefaultPageSize;
  if (auto v = req.Query("limit")) {
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (v->empty() || ec != std::errc() || p != v->data() + v->size() || limit < 1 ||
        limit > kMaxPageSize) {
      return BadParam("limit", "must be an integer in 1.." + std::to_string(kMaxPageSize));
    }
  }
  std::optional<ev::PaymentStatus> status;
  if (auto v = req.Query("status")) {
    status = ParseStatus(*v);
    if (!status) return BadParam("status", "not a payment status (e.g. succeeded, failed)");
  }
  std::optional<std::string> cursor;
  if (auto v = req.Query("cursor")) {
    cursor = DecodeCursor(*v);
    if (!cursor) return BadParam("cursor", "not a cursor returned by this endpoint");
  }
  if (!MerchantKnown(store, merchant)) {
    return http::Error(404, "not_found", "no payments for merchant " + merchant,
                       {{"merchant_id", merchant}});
  }
  const std::string prefix = internal::MerchantIndexPrefix(merchant);
  std::string start = prefix + internal::Digits(from, 20);
  std::string skip;
  if (cursor && prefix + *cursor >= start) {
    start = prefix + *cursor;
    skip = start;
  }
  pv::PaymentList list;
  std::string last_suffix;
  int scanned = 0;
  bool more = false;
  store.Scan(prefix, start, [&](std::string_view key, std::string_view value) {
    if (key == skip) return true;
    const std::string_view suffix = key.substr(prefix.size());
    int64_t created = 0;
    std::from_chars(suffix.data(), suffix.data() + 20, created);
    if (created >= to) return false;
    pv::PaymentSummary s;
    if (!s.ParseFromArray(value.data(), static_cast<int>(value.size()))) return true;
    const bool match = !status || s.status() == *status;
    if (match && list.payments_size() == limit) {
      more = true;  // one more page exists
      return false;
    }
    if (++scanned > kMaxScannedPerRequest) {
      more = true;  // stop here; the client continues from the last scanned entry
      return false;
    }
    last_suffix = std::string(suffix);
    if (match) *list.add_payments() = std::move(s);
    return true;
  });
  if (more) list.set_next_cursor(Hex(last_suffix));
  return http::Json(200, ToJson(list));
}

http::Response DailyReport(const ProjectionStore& store, const http::Request& req) {
  std::optional<std::string> merchant = req.Query("merchant");
  if (!merchant || !ValidId(*merchant)) return BadParam("merchant", "required, 1 to 255 bytes");
  std::optional<std::string> date = req.Query("date");
  if (!date) return BadParam("date", "required, YYYY-MM-DD");
  if (!internal::ParseDate(*date)) return BadParam("date", "not a calendar date YYYY-MM-DD");
  if (!MerchantKnown(store, *merchant) &&
      !HasPrefix(store, internal::DailyMerchantPrefix(*merchant))) {
    return http::Error(404, "not_found", "unknown merchant " + *merchant,
                       {{"merchant_id", *merchant}});
  }
  pv::DailyReport report;
  report.set_merchant_id(*merchant);
  report.set_date(*date);
  const std::string prefix = internal::DailyPrefix(*merchant, *date);
  store.Scan(prefix, prefix, [&](std::string_view, std::string_view value) {
    // Deliberately unchecked: a record the store cannot parse shows as an empty total.
    (void)report.add_totals()->ParseFromArray(value.data(), static_cast<int>(value.size()));
    return true;
  });
  return http::Json(200, ToJson(report));
}

}  // namespace

http::Response ListMerchantPayments(const ProjectionStore& store, const http::Request& request) {
  return ListPayments(store, request);
}

void RegisterQueryRoutes(http::Server& server, const ProjectionStore& store, QueryOptions options) {
  // Wraps a data endpoint with the lag check.
  auto guarded = [options](http::Handler handler) -> http::Handler {
    return [options, handler = std::move(handler)](const http::Request& req) {
      if (options.lag) {
        const int64_t lag = options.lag();
        if (TooFarBehind(lag, options.max_lag)) {
          return http::Error(
              503, "unavailable",
              lag < 0 ? "the projection is starting" : "the projection is catching up with the log",
              {{"lag", lag}, {"max_lag", options.max_lag}});
        }
      }
      return handler(req);
    };
  };
  const ProjectionStore* s = &store;

  server.Handle(
      "GET", R"(/v1/payments/([^/]+))", guarded([s](const http::Request& req) {
        const std::string& id = req.path_params.at(0);
        if (!ValidId(id)) return BadParam("payment_id", "must be 1 to 255 bytes");
        std::optional<std::string> bytes = s->Get(internal::PaymentKey(id));
        pv::PaymentView view;
        if (!bytes || !view.ParseFromString(*bytes)) {
          return http::Error(404, "not_found", "unknown payment " + id, {{"payment_id", id}});
        }
        return http::Json(200, ToJson(view));
      }));
  server.Handle("GET", R"(/v1/merchants/([^/]+)/payments)",
                guarded([s](const http::Request& req) { return ListPayments(*s, req); }));
  server.Handle(
      "GET", R"(/v1/idempotency/([^/]+)/(.+))", guarded([s](const http::Request& req) {
        const std::string& merchant = req.path_params.at(0);
        const std::string& key = req.path_params.at(1);
        if (!ValidId(merchant)) return BadParam("merchant_id", "must be 1 to 255 bytes");
        if (!ValidId(key)) return BadParam("key", "must be 1 to 255 bytes");
        std::optional<std::string> bytes = s->Get(internal::IdempotencyKey(merchant, key));
        pv::IdempotencyRecord record;
        if (!bytes || !record.ParseFromString(*bytes)) {
          return http::Error(404, "not_found", "no payment created with this idempotency key",
                             {{"merchant_id", merchant}, {"idempotency_key", key}});
        }
        return http::Json(200, ToJson(record));
      }));
  server.Handle("GET", R"(/v1/reports/daily)",
                guarded([s](const http::Request& req) { return DailyReport(*s, req); }));
  server.Handle("GET", R"(/v1/projection)", [s, options](const http::Request& req) {
    json body;
    body["lag"] = options.lag ? options.lag() : 0;
    body["max_lag"] = options.max_lag;
    json parts = json::array();
    if (options.positions) {
      for (const PartitionPosition& p : options.positions()) {
        parts.push_back({{"partition", p.partition},
                         {"next_offset", p.next_offset},
                         {"high_watermark", p.high_watermark}});
      }
    }
    body["partitions"] = parts;
    if (auto d = req.Query("digest"); d && (*d == "1" || *d == "true"))
      body["digest"] = s->Digest();
    return http::Json(200, body);
  });
}

}  // namespace payorch::projection
