#include "api/merchant_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <random>

#include "api/internal/admin.h"
#include "api/internal/answers.h"
#include "api/internal/auth.h"
#include "api/internal/commerce.h"
#include "api/internal/events.h"
#include "api/internal/iso20022_api.h"
#include "api/internal/log_bridge.h"
#include "api/internal/objects.h"
#include "api/internal/reports.h"
#include "api/internal/response_store.h"
#include "api/internal/webhook_feeder.h"
#include "api/keys.h"
#include "api/rate_limiter.h"
#include "command/hash.h"
#include "command/parser.h"
#include "log/appender.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/projection/v1/views.pb.h"
#include "projection/lag.h"
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

// The envelope's ids set after the size check: command_id ("api-" + 32 hex), correlation_id
// (at most kMaxCommandIdLength), payment_id, their tags and lengths.
constexpr size_t kEnvelopeIdsAllowance = 256;

}  // namespace

struct MerchantApi::Impl {
  MerchantApiOptions o;
  std::unique_ptr<Clock> own_clock;
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<KeyVerifier> verifier;
  std::unique_ptr<RateLimiter> limiter;
  internal::ResponseStore responses;
  std::unique_ptr<log::Appender> appender;
  std::unique_ptr<internal::EventFollower> follower;
  std::unique_ptr<internal::AggregateFollower> aggregates;  // invoices and orders
  std::unique_ptr<internal::Iso20022Api> iso;               // pain.001 out, pain.002 in
  std::unique_ptr<outbox::WebhookOutbox> outbox;
  std::unique_ptr<internal::WebhookFeeder> feeder;
  bool started = false;
  const uint64_t key_nonce = std::random_device{}() * 0x100000000ULL ^ std::random_device{}();
  std::atomic<uint64_t> key_counter{0};
  std::atomic<int64_t> last_sweep_ms{0};

  using Authed = std::function<http::Response(const http::Request&, const Principal&)>;

  // Authenticates and rate limits. The bucket is charged by the presented key id before
  // the secret is checked, so a flood of wrong secrets for one key id costs one argon2id
  // verification per token, not one per request. For the routes that wait on a thread of
  // their own pool anyway (HandleBlocking).
  http::Handler Guard(Authed h) {
    return [this, h = std::move(h)](const http::Request& req) {
      return internal::Finalize(internal::Authenticate(req, *limiter, *verifier, h));
    };
  }
  // Guard() for a route on the workers, answering through a Reply: the same checks and
  // headers, and no worker waits for an argon2id verification (internal::AuthenticateAsync).
  using AuthedAsync = internal::AuthedAsyncHandler;
  http::AsyncHandler GuardAsync(AuthedAsync h) {
    return [this, h = std::move(h)](const http::Request& req, const http::Reply& reply) {
      internal::AuthenticateAsync(req, *limiter, *verifier, reply, h, o.retry_after_s);
    };
  }
  // GuardAsync() for a handler that answers at once.
  http::AsyncHandler GuardAsync(Authed h) {
    return GuardAsync([h = std::move(h)](const http::Request& req, const Principal& who,
                                         const http::Reply& reply) { reply.Send(h(req, who)); });
  }

  http::Response Overloaded() const { return internal::Overloaded(o.retry_after_s); }

  bool Behind() const { return projection::TooFarBehind(o.runner->lag(), o.max_lag); }

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
  std::string ObjectJson(const pv::PaymentView& v) const {
    return internal::PaymentIntentJson(v, responses.Metadata(v.payment_id()));
  }
  // A settled command's final answer: the refund, or the payment (402 if it needs a method).
  http::Response SettledAnswer(bool create, bool refund, const pv::PaymentView& v,
                               const std::string& refund_id) const {
    if (refund) return internal::Raw(200, internal::RefundJson(v, refund_id));
    if (internal::PublicStatus(v.status(), v.authorized_minor()) != "requires_payment_method")
      return internal::Raw(create ? 201 : 200, ObjectJson(v));  // PaymentAnswer's common case
    return internal::PaymentAnswer(create ? 201 : 200, Object(v));
  }

  static http::Response NotFound() {
    return http::Error(404, "payment_not_found", "no such payment");
  }

  http::Response GetPayment(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    auto v = OwnView(who.merchant_id, req.path_params[0]);
    if (!v) return NotFound();
    return internal::Raw(200, ObjectJson(*v));
  }

  http::Response ListPayments(const http::Request& req, const Principal& who) {
    if (Behind()) return http::Error(503, "projection_behind", "payments are catching up; retry");
    http::Request q;
    if (auto refused = internal::ListQuery(req, who.merchant_id, &q)) return *refused;
    http::Response r = projection::ListMerchantPayments(*o.store, q);
    if (r.status == 404) return internal::ListObject(json::array(), "");
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
      return internal::ListObject(std::move(data),
                                  page.is_object() ? page.value("next_cursor", "") : "");
    }
    return internal::PublicListError(std::move(r));
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

  // What a POST's answer needs once the log has answered (or its deadline passed).
  struct InFlight {
    bool replayable = false;
    std::string merchant_id;
    std::string idem;
    std::string request_hash;
    std::string payment_id;
    bool create = false;
    bool refund = false;
    internal::StoredResponse pending;
  };

  // A POST that appends a command: the checks and the append run on the calling worker;
  // the answer is built on a worker once the follower has the decision (or the deadline
  // passed), and sent through `reply`. No thread waits for the log meanwhile.
  void PostAsync(const http::Request& req, const Principal& who, const Builder& build,
                 const http::Reply& reply) {
    if (auto early = Admit(req, who, build, reply)) reply.Send(std::move(*early));
  }

  // PostAsync(), waiting for its answer (for handlers that are themselves synchronous).
  http::Response Post(const http::Request& req, const Principal& who, const Builder& build) {
    auto answer = std::make_shared<std::promise<http::Response>>();
    std::future<http::Response> done = answer->get_future();
    PostAsync(
        req, who, build,
        http::Reply([answer](http::Response r) { answer->set_value(std::move(r)); }, nullptr));
    return done.get();
  }

  // PostAsync's checks, claim and append: an answer now, or nullopt once the command is
  // appended and `reply` will be answered.
  std::optional<http::Response> Admit(const http::Request& req, const Principal& who,
                                      const Builder& build, const http::Reply& reply) {
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
      internal::FieldErrors errs;
      errs.Add("Idempotency-Key", "card_number",
               "an Idempotency-Key must not carry a card number (it is kept in the log)");
      return errs.Response();
    }
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!body.is_object()) return http::Error(400, "invalid_json", "the body is not a JSON object");
    Command command;
    if (auto early = build(body, who, *idem, &command)) return *early;
    // What the writer would dead-letter is refused here, before anything is appended: the
    // record limit (command::kMaxRecordBytes), with room for the ids set below. (A create's
    // fields are within their own limits by now: build checked them.)
    if (command.envelope.ByteSizeLong() + kEnvelopeIdsAllowance > command::kMaxRecordBytes) {
      internal::FieldErrors errs;
      errs.Add("body", "too_large",
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
    using Claim = internal::ResponseStore::Claim;
    const Claim claim = replayable
                            ? responses.TryClaim(who.merchant_id, *idem, pending, &existing,
                                                 pending.created_ms, o.config.idempotency_window_ms)
                            : Claim::kNew;
    if (claim == Claim::kUnavailable) return internal::StoreUnavailable();
    if (claim == Claim::kExisting) {
      if (existing.request_hash != request_hash)
        return http::Error(409, "idempotency_key_reused",
                           "this Idempotency-Key was used with another request");
      if (existing.final) {
        http::Response r = internal::Raw(existing.status, existing.body);
        r.headers.emplace_back("Idempotent-Replayed", "true");
        return r;
      }
      // Still pending (an earlier answer was 202): answer from the payment as it is now.
      auto v = OwnView(who.merchant_id, existing.payment_id);
      if (v && internal::Settled(*v) && (!existing.refund || !existing.refund_id.empty())) {
        http::Response r = SettledAnswer(existing.create, existing.refund, *v, existing.refund_id);
        existing.final = true;
        existing.status = r.status;
        existing.body = r.body;
        responses.Finish(who.merchant_id, *idem, existing).IgnoreError();  // logged; stays pending
        return r;
      }
      return existing.refund ? internal::AcceptedRefund(existing.payment_id, v, existing.refund_id)
                             : Accepted(existing.payment_id, v);
    }

    // Overload is refused before anything is appended, and not stored: the same key is
    // taken again once payorch has room (docs/overload.md).
    if (command.create && o.overloaded && o.overloaded()) {
      if (replayable) responses.Release(who.merchant_id, *idem).IgnoreError();  // logged
      return Overloaded();
    }
    // The metadata is part of the object; the first create of a payment sets it.
    if (command.create && body.contains("metadata") &&
        !responses
             .PutMetadata(command.payment_id, internal::MetadataJson(command.envelope.create()))
             .ok()) {
      if (replayable) responses.Release(who.merchant_id, *idem).IgnoreError();  // logged
      return internal::StoreUnavailable();
    }
    const auto start = Clock_::now();
    const auto deadline = start + std::chrono::milliseconds(o.config.wait_ms);
    command.envelope.set_schema_version(1);
    command.envelope.set_command_id("api-" + StableHasher().Add(who.merchant_id).Add(*idem).Hex());
    command.envelope.set_correlation_id(internal::CorrelationIdFor(*idem));
    command.envelope.set_payment_id(command.payment_id);
    // The ranking is carried in the command and fixed by PlanBuilt; it is not part of the
    // request hash, so a retried request stamped differently is still the same request.
    if (o.stamp) o.stamp(&command.envelope);
    auto waiter = follower->Expect(command.envelope.command_id(), command.payment_id);
    appender->AppendAsync(
        {.topic = o.kafka.Topic(log::TopicKind::kCommands),
         .key = command.payment_id,
         .value = command.envelope.SerializeAsString()},
        [waiter](const std::string& e) { internal::EventFollower::Acknowledged(waiter, e); });
    auto flight = std::make_shared<InFlight>(InFlight{replayable, who.merchant_id, *idem,
                                                      request_hash, command.payment_id,
                                                      command.create, command.refund, pending});
    follower->OnAnswer(waiter, deadline,
                       start + std::chrono::milliseconds(o.config.append_timeout_ms),
                       [this, reply, flight](const internal::Decision& d) {
                         reply.Post([this, reply, flight, d] { reply.Send(Answer(*flight, d)); });
                       });
    return std::nullopt;
  }

  // The answer to an appended command, from what the follower learnt.
  http::Response Answer(InFlight& f, const internal::Decision& d) {
    const auto& who_merchant = f.merchant_id;
    const auto& idem = f.idem;
    const bool replayable = f.replayable;
    internal::StoredResponse& pending = f.pending;
    if (!d.append_error.empty()) {
      if (replayable) responses.Release(who_merchant, idem).IgnoreError();  // logged
      spdlog::warn("merchant api: append failed: {}", d.append_error);
      return http::Error(503, "log_unavailable",
                         "the payment log did not acknowledge the command in time; it may still "
                         "be decided: retry with the same Idempotency-Key, which never acts "
                         "twice");
    }
    if (d.rejection && d.rejection->reason() == ev::REJECT_REASON_OVERLOADED) {
      // The writer refused it: retry later. A failed release is logged.
      if (replayable) responses.Release(who_merchant, idem).IgnoreError();
      return Overloaded();
    }
    const auto finish = [&](const http::Response& r, const std::string& refund_id) {
      if (!replayable) return;
      responses  // a failure is logged; the claim stays pending
          .Finish(who_merchant, idem,
                  {f.request_hash, true, r.status, r.body, f.payment_id, f.create,
                   pending.created_ms, f.refund, refund_id})
          .IgnoreError();
    };
    if (d.rejection) {
      http::Response r = internal::RejectionResponse(*d.rejection);
      finish(r, "");
      return r;
    }
    // The answer is the follower's view: it has the decision's events (the follower answers
    // after the batch's views are in), unless a deadline came first.
    std::optional<pv::PaymentView> v = View(f.payment_id);
    if (v && v->merchant_id() != who_merchant) v.reset();
    if (d.decided && d.settled && v && v->last_sequence() >= d.max_sequence) {
      http::Response r = SettledAnswer(f.create, f.refund, *v, d.refund_id);
      finish(r, d.refund_id);
      return r;
    }
    if (!f.refund) return Accepted(f.payment_id, v);
    if (replayable && !d.refund_id.empty()) {  // a repeat answers this refund once it settles
      pending.refund_id = d.refund_id;
      responses.Finish(who_merchant, idem, pending).IgnoreError();  // logged
    }
    return internal::AcceptedRefund(f.payment_id, v, d.refund_id);
  }

  http::Response Accepted(const std::string& payment_id,
                          const std::optional<pv::PaymentView>& v) const {
    if (v) return internal::Raw(202, ObjectJson(*v));
    // Appended, not yet decided: only the id is known.
    return http::Json(202,
                      {{"id", payment_id}, {"object", "payment_intent"}, {"status", "processing"}});
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
    internal::FieldErrors errs;
    internal::CheckKnown(body, {"payment_intent", "amount", "reason"}, &errs);
    auto payment = internal::StrField(body, "payment_intent", true, &errs);
    auto amount = internal::IntField(body, "amount", false, &errs);
    auto reason = internal::StrField(body, "reason", false, &errs);
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
    if (auto refused = internal::ParseCreate(body, who.merchant_id, idem, &out->envelope)) {
      return refused;
    }
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

  // A guarded route to one of the handlers above.
  using Method = http::Response (Impl::*)(const http::Request&, const Principal&);
  http::AsyncHandler Bind(Method m) { return GuardAsync(Authed(std::bind_front(m, this))); }
  using BuildMethod = std::optional<http::Response> (Impl::*)(const json&, const Principal&,
                                                              const std::string&, Command*);
  http::AsyncHandler BindPost(BuildMethod m) {
    return GuardAsync(
        [this, m](const http::Request& req, const Principal& who, const http::Reply& reply) {
          PostAsync(req, who, std::bind_front(m, this), reply);
        });
  }

  void MountAll(http::Server& s) {
    s.HandleAsync("POST", "/v1/payments", BindPost(&Impl::BuildCreate));
    s.HandleAsync("GET", "/v1/payments", Bind(&Impl::ListPayments));
    s.HandleAsync("GET", "/v1/payments/([^/]+)", Bind(&Impl::GetPayment));
    const auto action = [this](const char* name) {
      const std::string what = name;
      return GuardAsync(
          [this, what](const http::Request& req, const Principal& who, const http::Reply& reply) {
            PostAsync(
                req, who,
                [&, what](const json& body, const Principal& w, const std::string& k,
                          Command* c) -> std::optional<http::Response> {
                  if (auto refused = internal::ParseFollowUp(what, body, k, &c->envelope)) {
                    return refused;
                  }
                  return Target(req, w, c);
                },
                reply);
          });
    };
    for (const char* a : {"confirm", "capture", "void", "cancel", "refunds"})
      s.HandleAsync("POST", std::string("/v1/payments/([^/]+)/") + a, action(a));
    s.HandleAsync("POST", "/v1/refunds", BindPost(&Impl::BuildRefund));
    s.HandleAsync("GET", "/v1/refunds", Bind(&Impl::ListRefunds));
    s.HandleAsync("GET", "/v1/refunds/([^/]+)", Bind(&Impl::GetRefund));
    s.HandleAsync("GET", "/v1/webhooks/dead", Bind(&Impl::ListDead));
    s.HandleAsync("POST", "/v1/webhooks/dead/([^/]+)/resend", Bind(&Impl::Resend));
    for (auto& r : internal::AdminRoutes(keys.get(), o.config.admin_token, o.merchant_configured))
      s.Handle(r.method, r.path, std::move(r.handler));  // the operator's /v1/admin/api-keys
    const auto create = [this](const http::Request& r, const Principal& w) {
      return Post(r, w, std::bind_front(&Impl::BuildCreate, this));
    };
    for (auto& r : internal::CommerceRoutes(
             {&o.kafka, &o.config, o.clock, appender.get(), aggregates.get(), &responses, create}))
      // invoices, orders, checkout: they wait on their aggregates' decisions
      s.HandleBlocking(r.method, r.pattern, Guard(std::move(r.handler)));
    for (auto& r : iso->Routes())
      s.HandleBlocking(r.method, r.pattern, Guard(std::move(r.handler)));
    auto behind = [this] { return Behind(); };
    auto reads = internal::EventRoutes([this] { return outbox.get(); });  // events, reports
    for (auto& r : internal::ReportRoutes(o.store, aggregates.get(), behind))
      reads.push_back(std::move(r));
    for (auto& [path, h] : reads) s.HandleAsync("GET", path, GuardAsync(Authed(std::move(h))));
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

http::Response ShapeError(http::Response r) { return internal::Finalize(std::move(r)); }

std::vector<RouteSpec> MerchantApi::Routes() {
  std::vector<RouteSpec> routes = {{"POST", "/v1/payments"},
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
                                   {"POST", "/v1/webhooks/dead/{id}/resend"},
                                   {"GET", "/v1/events"},
                                   {"GET", "/v1/events/{id}"},
                                   {"GET", "/v1/reports/financial"},
                                   {"POST", "/v1/admin/api-keys"},
                                   {"GET", "/v1/admin/api-keys"},
                                   {"GET", "/v1/admin/api-keys/audit"},
                                   {"PUT", "/v1/admin/api-keys/{id}/rotate"},
                                   {"DELETE", "/v1/admin/api-keys/{id}"}};
  for (const auto& r : internal::CommerceRouteSpecs()) routes.push_back({r.method, r.path});
  for (const auto& r : internal::Iso20022Api::RouteSpecs()) routes.push_back({r.method, r.path});
  return routes;
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
  if (Status s = i.responses.Open(dir + "/responses"); !s.ok()) return s.ToString();
  const auto endpoints = i.o.config.webhooks;
  i.outbox = std::make_unique<outbox::WebhookOutbox>(
      internal::OutboxOptions(i.o.config, dir + "/webhooks", i.o.clock));
  if (Status s = i.outbox->Open(); !s.ok()) return s.ToString();
  if (i.o.runner == nullptr) return "merchant api: no projection runner to follow";
  i.follower = std::make_unique<internal::EventFollower>(i.o.store, i.o.on_event);
  i.o.runner->ObserveBatches(i.follower->Observer());
  i.aggregates = std::make_unique<internal::AggregateFollower>(i.o.kafka, dir + "/commerce");
  if (std::string err = i.aggregates->Start(); !err.empty()) return err;
  i.appender = std::make_unique<log::Appender>(i.o.kafka);
  if (std::string err = i.appender->Start(); !err.empty()) return err;
  i.iso = std::make_unique<internal::Iso20022Api>(
      internal::Iso20022Deps{&i.o, i.appender.get(), i.aggregates.get(), i.follower.get()});
  if (std::string err = i.iso->Open(dir + "/iso20022"); !err.empty()) return err;
  if (i.o.webhooks) {
    i.feeder = std::make_unique<internal::WebhookFeeder>(
        i.o.kafka, i.outbox.get(),
        [endpoints](const std::string& m) { return endpoints.count(m) > 0; },
        [&i](const std::string& payment_id) {
          const std::string meta = i.responses.Metadata(payment_id);
          return meta.empty() ? json(nullptr) : json::parse(meta, nullptr, false);
        },
        i.o.clock, i.o.config.events_retention_days * internal::kDayMs, i.o.events_reader);
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
  if (i.aggregates) i.aggregates->Stop();
}

outbox::WebhookOutbox* MerchantApi::webhook_outbox() { return impl_->outbox.get(); }

}  // namespace payorch::api
