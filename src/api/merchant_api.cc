#include "api/merchant_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "api/internal/log_bridge.h"
#include "api/internal/objects.h"
#include "api/internal/response_store.h"
#include "api/internal/webhook_feeder.h"
#include "api/keys.h"
#include "api/rate_limiter.h"
#include "command/hash.h"
#include "command/parser.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/query.h"

namespace payorch::api {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace pv = ::payments::projection::v1;
namespace types = ::payments::types::v1;
using json = nlohmann::json;
using Clock_ = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxIdLength = 255;

http::Response Raw(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

bool Settled(const pv::PaymentView& v) {
  return v.status() != ev::PAYMENT_STATUS_AUTHORIZING &&
         v.status() != ev::PAYMENT_STATUS_PROCESSING && v.captures_in_flight() == 0 &&
         v.voids_in_flight() == 0 && v.refunds_in_flight() == 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The field a rejection reason is about, for 422 details.
std::string FieldOf(ev::RejectReason r) {
  switch (r) {
    case ev::REJECT_REASON_AMOUNT_NOT_POSITIVE:
    case ev::REJECT_REASON_AMOUNT_TOO_LARGE:
    case ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED:
    case ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED:
    case ev::REJECT_REASON_PLAN_COVERAGE:
      return "amount";
    case ev::REJECT_REASON_CURRENCY_UNKNOWN:
    case ev::REJECT_REASON_CURRENCY_NOT_ACCEPTED:
      return "currency";
    case ev::REJECT_REASON_METHOD_MISSING:
      return "payment_method";
    case ev::REJECT_REASON_MERCHANT_MISSING:
    case ev::REJECT_REASON_MERCHANT_UNKNOWN:
      return "merchant";
    case ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING:
    case ev::REJECT_REASON_IDEMPOTENCY_MISMATCH:
      return "Idempotency-Key";
    default:
      return "";
  }
}

int StatusOf(ev::RejectReason r) {
  switch (r) {
    case ev::REJECT_REASON_IDEMPOTENCY_MISMATCH:
    case ev::REJECT_REASON_TRANSITION_NOT_ALLOWED:
    case ev::REJECT_REASON_OPERATION_IN_FLIGHT:
    case ev::REJECT_REASON_OPERATION_NOT_PENDING:
      return 409;
    case ev::REJECT_REASON_PAYMENT_UNKNOWN:
      return 404;
    default:
      return 422;
  }
}

// The envelope's ids set after the size check: command_id ("api-" + 32 hex), correlation_id
// (at most kMaxCommandIdLength), payment_id, their tags and lengths.
constexpr size_t kEnvelopeIdsAllowance = 256;

// The Idempotency-Key as the correlation id when it fits (128 bytes), else a stable hash of
// it: keys up to 255 bytes are accepted, correlation ids are shorter.
std::string CorrelationIdFor(const std::string& idem) {
  if (idem.size() <= command::kMaxCommandIdLength) return idem;
  return "idem-" + StableHasher().Add(idem).Hex();
}

http::Response RejectionResponse(const ev::CommandRejected& rej) {
  std::string slug = ev::RejectReason_Name(rej.reason());
  if (slug.rfind("REJECT_REASON_", 0) == 0) slug = slug.substr(14);
  slug = Lower(slug);
  json fields = json::array();
  for (const auto& issue : rej.issues())
    fields.push_back(
        {{"field", issue.field()}, {"code", issue.code()}, {"message", issue.detail()}});
  if (fields.empty() && !FieldOf(rej.reason()).empty())
    fields.push_back({{"field", FieldOf(rej.reason())}, {"code", slug}, {"message", rej.detail()}});
  json details{{"reason", slug}, {"detail", rej.detail()}, {"fields", fields}};
  if (!rej.contract_id().empty()) details["contract_id"] = rej.contract_id();
  return http::Error(StatusOf(rej.reason()), slug,
                     rej.detail().empty() ? "the command was rejected: " + slug : rej.detail(),
                     details);
}

// Every answer of the merchant API passes here: the version header, and on an error the
// Stripe-style `type` and `param` (the public name of the field it is about) next to the
// documented status/code/message/details, with internal field names replaced by public
// ones. Deterministic, so a stored response replayed reads as it did the first time.
http::Response Finalize(http::Response r) {
  r.headers.emplace_back("Payorch-Version", internal::kApiVersion);
  if (r.status < 400) return r;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return r;
  json& e = body["error"];
  const std::string code = e.value("code", "");
  e["type"] = internal::ErrorType(r.status, code);
  json param = nullptr;
  if (e.contains("details") && e["details"].is_object()) {
    json& d = e["details"];
    if (d.contains("fields") && d["fields"].is_array()) {
      for (auto& f : d["fields"]) {
        if (f.contains("field") && f["field"].is_string())
          f["field"] = internal::PublicField(f["field"].get<std::string>());
        if (f.contains("message") && f["message"].is_string())
          f["message"] = internal::PublicMessage(f["message"].get<std::string>());
      }
      if (!d["fields"].empty() && d["fields"][0].contains("field")) param = d["fields"][0]["field"];
    }
    if (param.is_null() && d.contains("parameter")) param = d["parameter"];
    if (d.contains("detail") && d["detail"].is_string())
      d["detail"] = internal::PublicMessage(d["detail"].get<std::string>());
  }
  e["param"] = param;
  if (e.contains("message") && e["message"].is_string())
    e["message"] = internal::PublicMessage(e["message"].get<std::string>());
  r.body = body.dump();
  return r;
}

// Field-level problems found at the edge, before anything is appended.
struct FieldErrors {
  json list = json::array();
  void Add(const std::string& field, const std::string& code, const std::string& message) {
    list.push_back({{"field", field}, {"code", code}, {"message", message}});
  }
  bool empty() const { return list.empty(); }
  http::Response Response() const {
    return http::Error(422, "validation_failed", "the request has invalid fields",
                       {{"fields", list}});
  }
};

void CheckKnown(const json& body, std::initializer_list<const char*> known, FieldErrors* errs) {
  for (const auto& [k, _] : body.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) errs->Add(k, "unknown_field", "not a field of this request");
  }
}

std::optional<int64_t> IntField(const json& body, const char* name, bool required,
                                FieldErrors* errs) {
  if (!body.contains(name)) {
    if (required) errs->Add(name, "missing", "required");
    return std::nullopt;
  }
  const json& v = body[name];
  if (!v.is_number_integer()) {
    errs->Add(name, "invalid_type", "an integer amount in minor units is required");
    return std::nullopt;
  }
  return v.get<int64_t>();
}

std::optional<std::string> StrField(const json& body, const char* name, bool required,
                                    FieldErrors* errs) {
  if (!body.contains(name)) {
    if (required) errs->Add(name, "missing", "required");
    return std::nullopt;
  }
  if (!body[name].is_string()) {
    errs->Add(name, "invalid_type", "a string is required");
    return std::nullopt;
  }
  return body[name].get<std::string>();
}

}  // namespace

struct MerchantApi::Impl {
  MerchantApiOptions o;
  std::unique_ptr<Clock> own_clock;
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<KeyVerifier> verifier;
  std::unique_ptr<RateLimiter> limiter;
  internal::ResponseStore responses;
  std::unique_ptr<internal::CommandAppender> appender;
  std::unique_ptr<internal::EventFollower> follower;
  std::unique_ptr<outbox::WebhookOutbox> outbox;
  std::unique_ptr<internal::WebhookFeeder> feeder;
  bool started = false;
  const uint64_t key_nonce = std::random_device{}() * 0x100000000ULL ^ std::random_device{}();
  std::atomic<uint64_t> key_counter{0};
  std::atomic<int64_t> last_sweep_ms{0};

  using Authed = std::function<http::Response(const http::Request&, const Principal&)>;

  // Authenticates and rate limits. The bucket is charged by the presented key id before
  // the secret is checked, so a flood of wrong secrets for one key id costs one argon2id
  // verification per token, not one per request.
  http::Handler Guard(Authed h) {
    return [this, h = std::move(h)](const http::Request& req) {
      return Finalize(Authenticate(req, h));
    };
  }

  http::Response Authenticate(const http::Request& req, const Authed& h) {
    {
      const auto unauthorized = [] {
        http::Response r = http::Error(401, "unauthorized",
                                       "a valid API key is required: Authorization: Bearer pk_...");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      };
      const auto auth = req.Header("Authorization");
      if (!auth || auth->rfind("Bearer ", 0) != 0) return unauthorized();
      const std::string presented = auth->substr(7);
      const auto parsed = ParseKey(presented);
      if (!parsed) return unauthorized();
      RateDecision rate = limiter->Take(parsed->first);
      http::Response r;
      if (!rate.allowed) {
        r = http::Error(429, "rate_limited", "too many requests for this API key");
      } else if (std::optional<Principal> who = verifier->Verify(presented)) {
        r = h(req, *who);
      } else {
        return unauthorized();
      }
      for (auto& header : rate.headers) r.headers.push_back(std::move(header));
      return r;
    }
  }

  http::Response Overloaded() const {
    http::Response r = http::Error(
        503, "overloaded",
        "payorch takes no new payment now (its processors are saturated); nothing was done, "
        "retry after Retry-After seconds with the same Idempotency-Key");
    r.headers.emplace_back("Retry-After", std::to_string(std::max(1, o.retry_after_s)));
    return r;
  }

  bool Behind() const {
    if (!o.lag || o.max_lag < 0) return false;
    const int64_t lag = o.lag();
    return lag < 0 || lag > o.max_lag;
  }

  // The newest view: the projection's, or the follower's if it is ahead (read-your-writes).
  std::optional<pv::PaymentView> View(const std::string& payment_id) const {
    return follower->Latest(payment_id);
  }

  // The payment if it exists and belongs to `merchant`.
  std::optional<pv::PaymentView> OwnView(const std::string& merchant, const std::string& id) const {
    if (id.size() > kMaxIdLength) return std::nullopt;
    auto v = View(id);
    if (!v || v->merchant_id() != merchant) return std::nullopt;
    return v;
  }

  // The merchant-facing object of a payment (internal/objects.h), with its metadata.
  json Object(const pv::PaymentView& v) const {
    const std::string meta = responses.Metadata(v.payment_id());
    return internal::PaymentIntent(
        v, meta.empty() ? json(nullptr) : json::parse(meta, nullptr, false));
  }
  std::string ObjectJson(const pv::PaymentView& v) const { return Object(v).dump(); }

  static http::Response NotFound() {
    return http::Error(404, "payment_not_found", "no such payment");
  }

  http::Response GetPayment(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    auto v = OwnView(who.merchant_id, req.path_params[0]);
    if (!v) return NotFound();
    return Raw(200, ObjectJson(*v));
  }

  http::Response ListPayments(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    http::Request q;
    q.method = "GET";
    q.path_params = {who.merchant_id};
    for (const auto& [k, v] : req.query) {
      if (k == "created_from")
        q.query.emplace("from", v);
      else if (k == "created_to")
        q.query.emplace("to", v);
      else if (k == "status" || k == "limit" || k == "cursor")
        q.query.emplace(k, v);
      else
        return http::Error(400, "bad_parameter", "unknown query parameter " + k,
                           {{"parameter", k}});
    }
    http::Response r = projection::ListMerchantPayments(*o.store, q);
    const auto list = [](json data, std::string next) {
      const bool more = !next.empty();
      return http::Json(200, {{"object", "list"},
                              {"data", std::move(data)},
                              {"has_more", more},
                              {"next_cursor", std::move(next)}});
    };
    if (r.status == 404) return list(json::array(), "");
    if (r.status == 200) {
      // The index's page, each entry as its full object (the newest view, as GET shows it).
      const json page = json::parse(r.body, nullptr, false);
      json data = json::array();
      if (page.is_object() && page.contains("payments") && page["payments"].is_array())
        for (const auto& p : page["payments"]) {
          if (!p.contains("payment_id") || !p["payment_id"].is_string()) continue;
          if (auto v = OwnView(who.merchant_id, p["payment_id"].get<std::string>()))
            data.push_back(Object(*v));
        }
      return list(std::move(data), page.is_object() ? page.value("next_cursor", "") : "");
    }
    if (r.status == 400) {
      auto body = json::parse(r.body, nullptr, false);
      if (body.is_object() && body["error"]["details"].is_object()) {
        std::string p = body["error"]["details"].value("parameter", "");
        if (p == "from" || p == "to") body["error"]["details"]["parameter"] = "created_" + p;
        r.body = body.dump();
      }
    }
    return r;
  }

  http::Response ListDead(const http::Request&, const Principal& who) {
    json out = json::array();
    for (const auto& d : outbox->ListDead(who.merchant_id)) {
      out.push_back({{"id", d.id},
                     {"event_id", d.event_id},
                     {"attempts", d.attempts},
                     {"last_error", d.last_error},
                     {"created_at_ms", d.created_at_ms},
                     {"payload", json::parse(d.body, nullptr, false)}});
    }
    return http::Json(200, {{"deliveries", out}});
  }

  http::Response Resend(const http::Request& req, const Principal& who) {
    if (!outbox->Resend(who.merchant_id, req.path_params[0]))
      return http::Error(404, "delivery_not_found", "no such dead delivery");
    return http::Json(202, {{"id", req.path_params[0]}, {"status", "queued"}});
  }

  // A key for a POST sent without one: unique per request (a per-process random nonce and a
  // counter), so the payment id derived from it is new and no later request can replay it.
  std::string FreshKey(const Principal& who, const http::Request& req) {
    return "auto_" + StableHasher()
                         .Add(who.merchant_id)
                         .Add(req.request_id)
                         .Add(static_cast<int64_t>(key_nonce))
                         .Add(static_cast<int64_t>(key_counter.fetch_add(1)))
                         .Hex();
  }

  // Expired Idempotency-Keys are deleted by a bounded sweep: at most kSweepRecords records
  // examined, at most once per kSweepIntervalMs, on the request that finds it due.
  static constexpr int64_t kSweepIntervalMs = 60'000;
  static constexpr int kSweepRecords = 1'000;
  void SweepExpiredKeys(int64_t now_ms) {
    int64_t last = last_sweep_ms.load();
    if (now_ms - last < kSweepIntervalMs || !last_sweep_ms.compare_exchange_strong(last, now_ms))
      return;
    const int deleted = responses.Sweep(now_ms, o.config.idempotency_window_ms, kSweepRecords);
    if (deleted > 0) spdlog::info("merchant api: {} expired idempotency keys deleted", deleted);
  }

  // What to send for one POST: built after the edge checks pass.
  struct Command {
    cmd::CommandEnvelope envelope;
    std::string payment_id;
    bool create = false;
    bool refund = false;  // POST /v1/refunds: answered with the Refund object
  };
  using Builder = std::function<std::optional<http::Response>(
      const json& body, const Principal& who, const std::string& idem_key, Command* out)>;

  http::Response Post(const http::Request& req, const Principal& who, const Builder& build) {
    const auto header = req.Header("Idempotency-Key");
    // Trimmed once, here, by the parser's own rule: the key the API derives the payment id
    // from is the key the writer derives it from.
    std::optional<std::string> idem =
        header ? std::optional<std::string>(std::string(command::Trim(*header))) : std::nullopt;
    if (idem && idem->empty())
      return http::Error(400, "idempotency_key_empty",
                         "the Idempotency-Key header is blank; send a key or no header");
    // Without a key the request is not replayable (as with Stripe): it gets a key of its own
    // that no other request can name, nothing is stored, and a repeat is a new request.
    const bool replayable = idem.has_value();
    if (!replayable) idem = FreshKey(who, req);
    if (idem->size() > kMaxIdLength)
      return http::Error(400, "idempotency_key_too_long", "Idempotency-Key is over 255 bytes");
    if (command::IsCardNumberKey(*idem)) {
      FieldErrors errs;
      errs.Add("Idempotency-Key", "card_number",
               "an Idempotency-Key must not carry a card number (it is kept in the log)");
      return errs.Response();
    }
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!body.is_object()) return http::Error(400, "invalid_json", "the body is not a JSON object");
    Command command;
    if (auto early = build(body, who, *idem, &command)) return *early;
    // What the writer would dead-letter is refused here, before anything is appended: the
    // record limit (command::kMaxRecordBytes), with room for the ids set below.
    if (command.envelope.ByteSizeLong() + kEnvelopeIdsAllowance > command::kMaxRecordBytes) {
      FieldErrors errs;
      errs.Add(command.envelope.has_create() && command.envelope.create().metadata_size() > 0
                   ? "metadata"
                   : "body",
               "too_large",
               "the command would be over " + std::to_string(command::kMaxRecordBytes) +
                   " bytes, the largest record payorch decides");
      return errs.Response();
    }
    const std::string request_hash =
        StableHasher().Add(req.method).Add(req.path).Add(body.dump()).Hex();

    internal::StoredResponse pending;
    pending.request_hash = request_hash;
    pending.payment_id = command.payment_id;
    pending.create = command.create;
    pending.refund = command.refund;
    pending.created_ms = o.clock->NowMs();
    SweepExpiredKeys(pending.created_ms);
    internal::StoredResponse existing;
    if (replayable && responses.TryClaim(who.merchant_id, *idem, pending, &existing,
                                         pending.created_ms, o.config.idempotency_window_ms) ==
                          internal::ResponseStore::Claim::kExisting) {
      if (existing.request_hash != request_hash)
        return http::Error(409, "idempotency_key_reused",
                           "this Idempotency-Key was used with another request");
      if (existing.final) {
        http::Response r = Raw(existing.status, existing.body);
        r.headers.emplace_back("Idempotent-Replayed", "true");
        return r;
      }
      // Still pending (an earlier answer was 202): answer from the payment as it is now.
      auto v = OwnView(who.merchant_id, existing.payment_id);
      if (v && Settled(*v) && (!existing.refund || !existing.refund_id.empty())) {
        existing.final = true;
        existing.status = existing.create ? 201 : 200;
        existing.body = existing.refund ? RefundJson(*v, existing.refund_id) : ObjectJson(*v);
        responses.Finish(who.merchant_id, *idem, existing);
        return Raw(existing.status, existing.body);
      }
      return existing.refund ? AcceptedRefund(existing.payment_id, v, existing.refund_id)
                             : Accepted(existing.payment_id, v);
    }

    // Overload is refused before anything is appended, and not stored: the same key is
    // taken again once payorch has room (docs/overload.md).
    if (command.create && o.overloaded && o.overloaded()) {
      if (replayable) responses.Release(who.merchant_id, *idem);
      return Overloaded();
    }
    // The metadata is part of the object; the first create of a payment sets it.
    if (command.create && body.contains("metadata"))
      responses.PutMetadata(command.payment_id, body["metadata"].dump());
    const auto start = Clock_::now();
    const auto deadline = start + std::chrono::milliseconds(o.config.wait_ms);
    command.envelope.set_schema_version(1);
    command.envelope.set_command_id("api-" + StableHasher().Add(who.merchant_id).Add(*idem).Hex());
    command.envelope.set_correlation_id(CorrelationIdFor(*idem));
    command.envelope.set_payment_id(command.payment_id);
    // The ranking is carried in the command and fixed by PlanBuilt; it is not part of the
    // request hash, so a retried request stamped differently is still the same request.
    if (o.stamp) o.stamp(&command.envelope);
    auto waiter = follower->Expect(command.envelope.command_id(), command.payment_id);
    std::string err = appender->Append({.topic = o.kafka.Topic(log::TopicKind::kCommands),
                                        .key = command.payment_id,
                                        .value = command.envelope.SerializeAsString()},
                                       o.config.append_timeout_ms);
    if (!err.empty()) {
      follower->Forget(waiter);
      if (replayable) responses.Release(who.merchant_id, *idem);
      spdlog::warn("merchant api: append failed: {}", err);
      return http::Error(503, "log_unavailable",
                         "the payment log could not be reached; nothing was done, retry with the "
                         "same Idempotency-Key");
    }
    internal::Decision d = follower->Wait(waiter, deadline);
    if (d.rejection && d.rejection->reason() == ev::REJECT_REASON_OVERLOADED) {
      if (replayable)
        responses.Release(who.merchant_id, *idem);  // the writer refused it: retry later
      return Overloaded();
    }
    if (d.rejection) {
      http::Response r = RejectionResponse(*d.rejection);
      if (replayable)
        responses.Finish(who.merchant_id, *idem,
                         {request_hash, true, r.status, r.body, command.payment_id, command.create,
                          pending.created_ms, command.refund, ""});
      return r;
    }
    // The answer is the projection's view once it shows the decision.
    std::optional<pv::PaymentView> v =
        d.decided ? follower->WaitForView(command.payment_id, d.max_sequence, deadline)
                  : View(command.payment_id);
    if (v && v->merchant_id() != who.merchant_id) v.reset();
    if (d.decided && d.settled && v && v->last_sequence() >= d.max_sequence) {
      const int status = command.create ? 201 : 200;
      std::string bytes = command.refund ? RefundJson(*v, d.refund_id) : ObjectJson(*v);
      if (replayable)
        responses.Finish(who.merchant_id, *idem,
                         {request_hash, true, status, bytes, command.payment_id, command.create,
                          pending.created_ms, command.refund, d.refund_id});
      return Raw(status, std::move(bytes));
    }
    if (!command.refund) return Accepted(command.payment_id, v);
    if (replayable && !d.refund_id.empty()) {  // a repeat answers this refund once it settles
      pending.refund_id = d.refund_id;
      responses.Finish(who.merchant_id, *idem, pending);
    }
    return AcceptedRefund(command.payment_id, v, d.refund_id);
  }

  http::Response Accepted(const std::string& payment_id,
                          const std::optional<pv::PaymentView>& v) const {
    if (v) return Raw(202, ObjectJson(*v));
    // Appended, not yet decided: only the id is known.
    return http::Json(202,
                      {{"id", payment_id}, {"object", "payment_intent"}, {"status", "processing"}});
  }

  // The Refund object of `refund_id` on the payment; while its operations are not in the
  // view yet, a pending refund with what is known.
  std::string RefundJson(const pv::PaymentView& v, const std::string& refund_id) const {
    json r = internal::Refund(v, refund_id);
    if (r.is_null())
      r = {{"id", refund_id.empty() ? json(nullptr)
                                    : json(internal::PublicRefundId(v.payment_id(), refund_id))},
           {"object", "refund"},
           {"payment_intent", v.payment_id()},
           {"status", "pending"}};
    return r.dump();
  }
  http::Response AcceptedRefund(const std::string& payment_id,
                                const std::optional<pv::PaymentView>& v,
                                const std::string& refund_id) const {
    if (v) return Raw(202, RefundJson(*v, refund_id));
    return http::Json(
        202, {{"id", refund_id.empty() ? json(nullptr)
                                       : json(internal::PublicRefundId(payment_id, refund_id))},
              {"object", "refund"},
              {"payment_intent", payment_id},
              {"status", "pending"}});
  }

  http::Response GetRefund(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    const auto ref = internal::ParseRefundId(req.path_params[0]);
    const auto v = ref ? OwnView(who.merchant_id, ref->payment_id) : std::nullopt;
    json r = v ? internal::Refund(*v, ref->refund_id) : json(nullptr);
    if (r.is_null()) return http::Error(404, "refund_not_found", "no such refund");
    return http::Json(200, r);
  }

  http::Response ListRefunds(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    for (const auto& [k, _] : req.query)
      if (k != "payment_intent")
        return http::Error(400, "bad_parameter", "unknown query parameter " + k,
                           {{"parameter", k}});
    const auto id = req.Query("payment_intent");
    if (!id || id->empty())
      return http::Error(400, "bad_parameter", "payment_intent is required",
                         {{"parameter", "payment_intent"}});
    const auto v = OwnView(who.merchant_id, *id);
    if (!v) return NotFound();
    return http::Json(200, {{"object", "list"},
                            {"data", internal::Refunds(*v)},
                            {"has_more", false},
                            {"next_cursor", ""}});
  }

  // POST /v1/refunds {payment_intent, amount?, reason?}: amount defaults to what is
  // refundable now (captured - refunded).
  std::optional<http::Response> BuildRefund(const json& body, const Principal& who,
                                            const std::string& idem, Command* out) {
    FieldErrors errs;
    CheckKnown(body, {"payment_intent", "amount", "reason"}, &errs);
    auto payment = StrField(body, "payment_intent", true, &errs);
    auto amount = IntField(body, "amount", false, &errs);
    auto reason = StrField(body, "reason", false, &errs);
    if (!errs.empty()) return errs.Response();
    const auto v = OwnView(who.merchant_id, *payment);
    if (!v) return NotFound();
    const int64_t refundable = v->captured_minor() - v->refunded_minor();
    if (!amount && refundable <= 0) {
      errs.Add("amount", "nothing_refundable", "the payment has nothing left to refund");
      return errs.Response();
    }
    auto* ref = out->envelope.mutable_refund();
    ref->set_amount_minor(amount.value_or(refundable));
    ref->set_idempotency_key(idem);
    ref->set_reason(reason.value_or(""));
    out->payment_id = *payment;
    out->envelope.set_merchant_id(who.merchant_id);
    out->refund = true;
    return std::nullopt;
  }

  // Builders --------------------------------------------------------------------------

  std::optional<http::Response> BuildCreate(const json& body, const Principal& who,
                                            const std::string& idem, Command* out) {
    FieldErrors errs;
    CheckKnown(body,
               {"amount", "currency", "payment_method", "capture_method", "confirm",
                "customer_reference", "metadata"},
               &errs);
    auto amount = IntField(body, "amount", true, &errs);
    auto currency = StrField(body, "currency", true, &errs);
    auto method = StrField(body, "payment_method", true, &errs);
    auto capture = StrField(body, "capture_method", false, &errs);
    auto reference = StrField(body, "customer_reference", false, &errs);
    types::PaymentMethod pm = types::PAYMENT_METHOD_UNSPECIFIED;
    if (method) {
      if (*method == "card")
        pm = types::PAYMENT_METHOD_CARD;
      else if (*method == "apple_pay")
        pm = types::PAYMENT_METHOD_APPLE_PAY;
      else if (*method == "google_pay")
        pm = types::PAYMENT_METHOD_GOOGLE_PAY;
      else if (*method == "bank_transfer")
        pm = types::PAYMENT_METHOD_BANK_TRANSFER;
      else
        errs.Add("payment_method", "invalid_value",
                 "one of card, apple_pay, google_pay, bank_transfer");
    }
    types::CaptureMode cm = types::CAPTURE_MODE_AUTOMATIC;
    if (capture) {
      if (*capture == "manual")
        cm = types::CAPTURE_MODE_MANUAL;
      else if (*capture != "automatic")
        errs.Add("capture_method", "invalid_value", "automatic or manual");
    }
    bool confirm = false;
    if (body.contains("confirm")) {
      if (!body["confirm"].is_boolean())
        errs.Add("confirm", "invalid_type", "a boolean");
      else
        confirm = body["confirm"].get<bool>();
    }
    if (body.contains("metadata")) {
      const json& m = body["metadata"];
      if (!m.is_object())
        errs.Add("metadata", "invalid_type", "an object of strings");
      else
        for (const auto& [k, v] : m.items())
          if (!v.is_string()) errs.Add("metadata." + k, "invalid_type", "a string");
    }
    if (!errs.empty()) return errs.Response();
    auto* c = out->envelope.mutable_create();
    c->set_merchant_id(who.merchant_id);
    c->mutable_amount()->set_amount_minor(*amount);
    c->mutable_amount()->set_currency(*currency);
    c->set_method(pm);
    c->set_idempotency_key(idem);
    c->set_capture_mode(cm);
    c->set_confirm(confirm);
    if (reference) c->set_customer_reference(*reference);
    if (body.contains("metadata"))
      for (const auto& [k, v] : body["metadata"].items())
        (*c->mutable_metadata())[k] = v.get<std::string>();
    out->payment_id = DerivePaymentId(who.merchant_id, idem);
    out->create = true;
    return std::nullopt;
  }

  // Follow-up commands: the payment must exist and be the caller's. The command names the
  // authenticated merchant, so the writer refuses it (MERCHANT_MISMATCH) should the payment
  // turn out to be another's, whatever this read model said.
  std::optional<http::Response> Target(const http::Request& req, const Principal& who,
                                       Command* out) {
    if (!OwnView(who.merchant_id, req.path_params[0])) return NotFound();
    out->payment_id = req.path_params[0];
    out->envelope.set_merchant_id(who.merchant_id);
    return std::nullopt;
  }

  void MountAll(http::Server& s) {
    s.Handle("POST", "/v1/payments", Guard([this](const http::Request& req, const Principal& who) {
               return Post(req, who,
                           [this](const json& b, const Principal& w, const std::string& k,
                                  Command* c) { return BuildCreate(b, w, k, c); });
             }));
    s.Handle("GET", "/v1/payments", Guard([this](const http::Request& r, const Principal& w) {
               return ListPayments(r, w);
             }));
    s.Handle(
        "GET", "/v1/payments/([^/]+)",
        Guard([this](const http::Request& r, const Principal& w) { return GetPayment(r, w); }));
    const auto action = [this](const char* name) {
      const std::string what = name;
      return Guard([this, what](const http::Request& req, const Principal& who) {
        return Post(req, who,
                    [&, what](const json& body, const Principal& w, const std::string& k,
                              Command* c) -> std::optional<http::Response> {
                      FieldErrors errs;
                      if (what == "confirm") {
                        CheckKnown(body, {}, &errs);
                        if (!errs.empty()) return errs.Response();
                        c->envelope.mutable_confirm();
                      } else if (what == "capture") {
                        CheckKnown(body, {"amount", "final_capture"}, &errs);
                        auto amount = IntField(body, "amount", false, &errs);
                        bool final_capture = false;
                        if (body.contains("final_capture")) {
                          if (!body["final_capture"].is_boolean())
                            errs.Add("final_capture", "invalid_type", "a boolean");
                          else
                            final_capture = body["final_capture"].get<bool>();
                        }
                        if (!errs.empty()) return errs.Response();
                        auto* cap = c->envelope.mutable_capture();
                        cap->set_amount_minor(amount.value_or(0));
                        cap->set_idempotency_key(k);
                        cap->set_final_capture(final_capture);
                      } else if (what == "refunds") {
                        CheckKnown(body, {"amount", "reason"}, &errs);
                        auto amount = IntField(body, "amount", true, &errs);
                        auto reason = StrField(body, "reason", false, &errs);
                        if (!errs.empty()) return errs.Response();
                        auto* ref = c->envelope.mutable_refund();
                        ref->set_amount_minor(*amount);
                        ref->set_idempotency_key(k);
                        ref->set_reason(reason.value_or(""));
                      } else {  // void, cancel
                        CheckKnown(body, {"reason"}, &errs);
                        auto reason = StrField(body, "reason", false, &errs);
                        if (!errs.empty()) return errs.Response();
                        if (what == "void")
                          c->envelope.mutable_void_()->set_reason(reason.value_or(""));
                        else
                          c->envelope.mutable_cancel()->set_reason(reason.value_or(""));
                      }
                      return Target(req, w, c);
                    });
      });
    };
    for (const char* a : {"confirm", "capture", "void", "cancel", "refunds"})
      s.Handle("POST", std::string("/v1/payments/([^/]+)/") + a, action(a));
    s.Handle("POST", "/v1/refunds", Guard([this](const http::Request& req, const Principal& who) {
               return Post(req, who,
                           [this](const json& b, const Principal& w, const std::string& k,
                                  Command* c) { return BuildRefund(b, w, k, c); });
             }));
    s.Handle("GET", "/v1/refunds", Guard([this](const http::Request& r, const Principal& w) {
               return ListRefunds(r, w);
             }));
    s.Handle("GET", "/v1/refunds/([^/]+)",
             Guard([this](const http::Request& r, const Principal& w) { return GetRefund(r, w); }));
    s.Handle("GET", "/v1/webhooks/dead",
             Guard([this](const http::Request& r, const Principal& w) { return ListDead(r, w); }));
    s.Handle("POST", "/v1/webhooks/dead/([^/]+)/resend",
             Guard([this](const http::Request& r, const Principal& w) { return Resend(r, w); }));
  }
};

MerchantApi::MerchantApi(MerchantApiOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->o = std::move(options);
  if (impl_->o.clock == nullptr) {
    impl_->own_clock = std::make_unique<SystemClock>();
    impl_->o.clock = impl_->own_clock.get();
  }
}

MerchantApi::~MerchantApi() { Stop(); }

std::vector<RouteSpec> MerchantApi::Routes() {
  return {{"POST", "/v1/payments"},
          {"GET", "/v1/payments"},
          {"GET", "/v1/payments/{id}"},
          {"POST", "/v1/payments/{id}/confirm"},
          {"POST", "/v1/payments/{id}/capture"},
          {"POST", "/v1/payments/{id}/void"},
          {"POST", "/v1/payments/{id}/cancel"},
          {"POST", "/v1/payments/{id}/refunds"},
          {"POST", "/v1/refunds"},
          {"GET", "/v1/refunds"},
          {"GET", "/v1/refunds/{id}"},
          {"GET", "/v1/webhooks/dead"},
          {"POST", "/v1/webhooks/dead/{id}/resend"}};
}

std::string MerchantApi::Start() {
  Impl& i = *impl_;
  if (i.o.store == nullptr) return "merchant api: no projection store";
  const std::string dir = i.o.data_dir + "/api";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "merchant api: cannot create " + dir + ": " + ec.message();
  i.keys = std::make_unique<KeyStore>(dir + "/keys.jsonl", i.o.clock);
  i.verifier = std::make_unique<KeyVerifier>(
      i.keys.get(), VerifierOptions{.ttl_ms = i.o.config.key_cache_ttl_ms}, i.o.clock);
  i.limiter = std::make_unique<RateLimiter>(i.o.config.rate_limit, i.o.clock);
  if (std::string err = i.responses.Open(dir + "/responses"); !err.empty()) return err;
  const auto endpoints = i.o.config.webhooks;
  outbox::WebhookOutboxOptions wo;
  wo.dir = dir + "/webhooks";
  wo.endpoints = [endpoints](const std::string& m) -> std::optional<outbox::WebhookEndpoint> {
    auto it = endpoints.find(m);
    if (it == endpoints.end()) return std::nullopt;
    return it->second;
  };
  wo.retry = i.o.config.retry;
  wo.clock = i.o.clock;
  i.outbox = std::make_unique<outbox::WebhookOutbox>(std::move(wo));
  if (std::string err = i.outbox->Open(); !err.empty()) return err;
  i.follower = std::make_unique<internal::EventFollower>(i.o.kafka, i.o.store, i.o.on_event);
  if (std::string err = i.follower->Start(); !err.empty()) return err;
  i.appender = std::make_unique<internal::CommandAppender>(i.o.kafka);
  if (std::string err = i.appender->Start(); !err.empty()) return err;
  if (i.o.webhooks) {
    i.feeder = std::make_unique<internal::WebhookFeeder>(
        i.o.kafka, i.outbox.get(),
        [endpoints](const std::string& m) { return endpoints.count(m) > 0; },
        [&i](const std::string& payment_id) {
          const std::string meta = i.responses.Metadata(payment_id);
          return meta.empty() ? json(nullptr) : json::parse(meta, nullptr, false);
        });
    if (std::string err = i.feeder->Start(); !err.empty()) return err;
    i.outbox->Start();
  }
  i.started = true;
  return "";
}

void MerchantApi::Mount(http::Server& server) { impl_->MountAll(server); }

void MerchantApi::Stop() {
  Impl& i = *impl_;
  if (i.feeder) i.feeder->Stop();
  if (i.outbox) i.outbox->Stop();
  if (i.appender) i.appender->Stop();
  if (i.follower) i.follower->Stop();
}

outbox::WebhookOutbox* MerchantApi::webhook_outbox() { return impl_->outbox.get(); }

}  // namespace payorch::api
