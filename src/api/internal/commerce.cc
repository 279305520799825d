#include "api/internal/commerce.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "api/internal/answers.h"
#include "api/internal/commerce_json.h"
#include "command/hash.h"
#include "command/parser.h"
#include "invoice/invoice.h"
#include "order/order.h"
#include "payments/invoices/v1/invoices.pb.h"
#include "payments/orders/v1/orders.pb.h"

namespace payorch::api::internal {

namespace inv = ::payments::invoices::v1;
namespace ord = ::payments::orders::v1;
using json = nlohmann::json;

namespace {

constexpr size_t kMaxKeyLength = 255;
constexpr size_t kMaxAggregateIdLength = 64;  // the cores' id limit

// What one step of a keyed request answers, and whether that answer is final (stored and
// replayed) or the key stays pending so a retry redoes the remaining steps.
struct Step {
  http::Response response;
  bool final = true;
};

http::Response NotFound(const char* what) {
  return http::Error(404, std::string(what) + "_not_found", std::string("no such ") + what);
}

class Commerce {
 public:
  explicit Commerce(const CommerceDeps& d) : d_(d) {}

  // GET /v1/orders/{id}
  http::Response GetOrder(const http::Request& req, const Principal& who) {
    auto s = OwnOrder(who, req.path_params[0]);
    if (!s) return NotFound("order");
    return http::Json(200, OrderObject(*s));
  }

  // GET /v1/invoices/{id}
  http::Response GetInvoice(const http::Request& req, const Principal& who) {
    auto s = OwnInvoice(who, req.path_params[0]);
    if (!s) return NotFound("invoice");
    return http::Json(200, InvoiceObject(*s));
  }

  // POST /v1/checkout
  http::Response Checkout(const http::Request& req, const Principal& who) {
    std::string key;
    if (auto refused = Key(req, true, &key)) return *refused;
    json body;
    if (auto refused = Body(req, &body)) return *refused;
    ord::CreateOrder create;
    CheckoutPayment pay;
    if (auto refused = ParseCheckout(body, who.merchant_id, &create, &pay)) return *refused;
    return Keyed(req, who, key, body, [&]() -> Step {
      const std::string hash = StableHasher().Add(who.merchant_id).Add(key).Hex();
      const std::string order_id = "ord_" + hash;
      const std::string pay_key = "checkout_" + hash;
      const std::string payment_id = DerivePaymentId(who.merchant_id, pay_key);
      ord::OrderCommandEnvelope c;
      c.set_order_id(order_id);
      c.set_merchant_id(who.merchant_id);
      c.set_correlation_id(CorrelationIdFor(key));
      *c.mutable_create() = create;
      if (auto refused = Send(log::TopicKind::kOrderCommands, order_id, &c)) return *refused;
      auto order = d_.follower->Order(order_id);
      if (!order) return {NotSeen(), false};
      c.clear_create();
      c.mutable_link_payment()->set_payment_id(payment_id);
      c.mutable_link_payment()->mutable_amount()->set_amount_minor(order->total_minor);
      c.mutable_link_payment()->mutable_amount()->set_currency(order->currency);
      if (auto refused = Send(log::TopicKind::kOrderCommands, order_id, &c)) return *refused;
      json payment = {{"amount", order->total_minor},
                      {"currency", order->currency},
                      {"payment_method", pay.payment_method},
                      {"capture_method", pay.capture_method},
                      {"confirm", true},
                      {"metadata", {{order::kPaymentLinkKey, order_id}}}};
      if (!order->customer_reference.empty())
        payment["customer_reference"] = order->customer_reference;
      http::Response r = CreatePayment(req, who, pay_key, payment);
      if (RefusedBeforeItExists(r)) {
        // No event of this payment will ever reach the saga: release the link here.
        c.clear_link_payment();
        auto* fact = c.mutable_payment_fact();
        fact->set_payment_id(payment_id);
        fact->set_kind(ord::PAYMENT_FACT_KIND_FAILED);
        fact->set_detail(RefusalDetail(r));
        if (auto refused = Send(log::TopicKind::kOrderCommands, order_id, &c)) {
          if (!refused->final) return *refused;  // the retry releases it
          spdlog::warn("merchant api: releasing {} of order {} refused: {}", payment_id, order_id,
                       refused->response.body);
        }
        // The order exists (awaiting payment): the refusal names it, so it can be paid
        // another way or canceled.
        json answer = json::parse(r.body, nullptr, false);
        if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
          answer["error"]["details"]["order"] = order_id;
          r.body = answer.dump();
        }
        return {std::move(r), true};
      }
      return Combine(
          "order",
          [&] {
            auto now = d_.follower->Order(order_id);
            return now ? OrderObject(*now) : json(nullptr);
          },
          std::move(r));
    });
  }

  // POST /v1/invoices
  http::Response CreateInvoice(const http::Request& req, const Principal& who) {
    std::string key;
    if (auto refused = Key(req, false, &key)) return *refused;
    json body;
    if (auto refused = Body(req, &body)) return *refused;
    inv::InvoiceCommandEnvelope c;
    if (auto refused = ParseCreateInvoice(body, who.merchant_id, c.mutable_create()))
      return *refused;
    const std::string id = "inv_" + StableHasher().Add(who.merchant_id).Add(key).Hex();
    c.set_invoice_id(id);
    c.set_merchant_id(who.merchant_id);
    c.set_correlation_id(CorrelationIdFor(key));
    if (auto refused = Send(log::TopicKind::kInvoiceCommands, id, &c)) return refused->response;
    auto s = d_.follower->Invoice(id);
    if (!s) return NotSeen();
    return http::Json(201, InvoiceObject(*s));
  }

  // POST /v1/invoices/{id}/payments
  http::Response PayInvoice(const http::Request& req, const Principal& who) {
    std::string key;
    if (auto refused = Key(req, true, &key)) return *refused;
    json body;
    if (auto refused = Body(req, &body)) return *refused;
    InvoicePaymentRequest pay;
    if (auto refused = ParseInvoicePayment(body, &pay)) return *refused;
    const std::string id = req.path_params[0];
    return Keyed(req, who, key, body, [&]() -> Step {
      auto s = OwnInvoice(who, id);
      if (!s) return {NotFound("invoice"), false};
      const std::string pay_key =
          "invoice_" + StableHasher().Add(who.merchant_id).Add(id).Add(key).Hex();
      const std::string payment_id = DerivePaymentId(who.merchant_id, pay_key);
      // A retry links what the first attempt linked; otherwise the installment's rest.
      uint32_t installment = pay.installment;
      int64_t amount = pay.amount.value_or(0);
      if (const invoice::LinkedPayment* before = s->FindPayment(payment_id)) {
        installment = before->installment;
        amount = before->amount_minor;
      } else if (!pay.amount && installment >= 1 && installment <= s->installments.size()) {
        amount = s->installments[installment - 1].outstanding_minor();
      }
      inv::InvoiceCommandEnvelope c;
      c.set_invoice_id(id);
      c.set_merchant_id(who.merchant_id);
      c.set_correlation_id(CorrelationIdFor(key));
      auto* link = c.mutable_link_payment();
      link->set_payment_id(payment_id);
      link->set_installment(installment);
      link->mutable_amount()->set_amount_minor(amount);
      link->mutable_amount()->set_currency(s->currency);
      // A payment released already (refused by POST /v1/payments on an earlier attempt
      // whose answer was not stored) is not linked again: the payment step answers its
      // refusal once more.
      const invoice::LinkedPayment* linked = s->FindPayment(payment_id);
      if (linked == nullptr || !linked->released) {
        if (auto refused = Send(log::TopicKind::kInvoiceCommands, id, &c)) return *refused;
      }
      json payment = {{"amount", amount},
                      {"currency", s->currency},
                      {"payment_method", pay.payment_method},
                      {"capture_method", "automatic"},
                      {"confirm", true},
                      {"metadata",
                       {{invoice::kPaymentLinkKey, id},
                        {invoice::kInstallmentKey, std::to_string(installment)}}}};
      if (!s->customer_reference.empty()) payment["customer_reference"] = s->customer_reference;
      http::Response r = CreatePayment(req, who, pay_key, payment);
      if (RefusedBeforeItExists(r)) {
        // No event of this payment will ever reach the saga: release the installment here.
        c.clear_link_payment();
        c.mutable_payment_failed()->set_payment_id(payment_id);
        c.mutable_payment_failed()->set_reason(RefusalDetail(r));
        if (auto refused = Send(log::TopicKind::kInvoiceCommands, id, &c)) {
          if (!refused->final) return *refused;  // the retry releases it
          spdlog::warn("merchant api: releasing {} of invoice {} refused: {}", payment_id, id,
                       refused->response.body);
        }
        return {std::move(r), true};
      }
      return Combine(
          "invoice",
          [&] {
            auto now = d_.follower->Invoice(id);
            return now ? InvoiceObject(*now) : json(nullptr);
          },
          std::move(r));
    });
  }

  // POST /v1/invoices/{id}/supplementary: IssueSupplementary on the invoice, then the
  // supplementary invoice's own CreateInvoice (invoice::SupplementaryCreate). The ids and
  // both commands (command ids included) are functions of the merchant, the invoice and
  // the supplementary id, so a retry with the same Idempotency-Key (or the same explicit
  // supplementary_invoice_id) is deduplicated by both invoices and completes what a first
  // attempt left undone.
  http::Response IssueSupplementary(const http::Request& req, const Principal& who) {
    std::string key;
    if (auto refused = Key(req, false, &key)) return *refused;
    json body;
    if (auto refused = Body(req, &body)) return *refused;
    const std::string id = req.path_params[0];
    inv::InvoiceCommandEnvelope c;
    inv::IssueSupplementary* issue = c.mutable_issue_supplementary();
    if (auto refused = ParseSupplementary(body, issue)) return *refused;
    if (issue->supplementary_invoice_id().empty())
      issue->set_supplementary_invoice_id(
          "inv_" + StableHasher().Add(who.merchant_id).Add(id).Add(key).Hex());
    const std::string sup_id = issue->supplementary_invoice_id();
    if (!OwnInvoice(who, id)) return NotFound("invoice");
    // An id naming an invoice that is not this one's supplementary is refused before the
    // original records it (the core cannot see other invoices).
    if (auto other = d_.follower->Invoice(sup_id);
        other && (other->merchant_id != who.merchant_id || other->supplements_invoice_id != id))
      return http::Error(409, "supplementary_exists",
                         "supplementary_invoice_id names an invoice that is not a supplementary "
                         "of this one");
    const auto command_id = [&](const char* step) {
      return "api-sup-" + StableHasher().Add(who.merchant_id).Add(id).Add(sup_id).Add(step).Hex();
    };
    c.set_invoice_id(id);
    c.set_merchant_id(who.merchant_id);
    c.set_correlation_id(CorrelationIdFor(key));
    if (auto refused = Send(log::TopicKind::kInvoiceCommands, id, &c, command_id("issue")))
      return refused->response;
    auto original = d_.follower->Invoice(id);
    if (!original) return NotSeen();
    inv::InvoiceCommandEnvelope create;
    create.set_invoice_id(sup_id);
    create.set_merchant_id(who.merchant_id);
    create.set_correlation_id(CorrelationIdFor(key));
    *create.mutable_create() = invoice::SupplementaryCreate(*original, *issue);
    if (auto refused =
            Send(log::TopicKind::kInvoiceCommands, sup_id, &create, command_id("create")))
      return refused->response;
    auto supplementary = d_.follower->Invoice(sup_id);
    if (!supplementary) return NotSeen();
    return http::Json(201, {{"invoice", InvoiceObject(*original)},
                            {"supplementary_invoice", InvoiceObject(*supplementary)}});
  }

  // POST /v1/orders/{id}/cancel {reason}: an order with no payment pending (awaiting
  // payment); one whose payment is pending or authorized is canceled through that payment.
  http::Response CancelOrder(const http::Request& req, const Principal& who) {
    return ReasonAction<ord::OrderCommandEnvelope>(
        req, who, log::TopicKind::kOrderCommands, "order",
        [](ord::OrderCommandEnvelope& c, const std::string& id, const std::string& reason) {
          c.set_order_id(id);
          c.mutable_cancel()->set_reason(reason);
        },
        [&](const std::string& id) -> std::optional<json> {
          auto s = d_.follower->Order(id);
          if (!s || s->merchant_id != who.merchant_id) return std::nullopt;
          return OrderObject(*s);
        });
  }

  // POST /v1/invoices/{id}/cancel|close {reason}
  http::Response InvoiceAction(const std::string& action, const http::Request& req,
                               const Principal& who) {
    return ReasonAction<inv::InvoiceCommandEnvelope>(
        req, who, log::TopicKind::kInvoiceCommands, "invoice",
        [&](inv::InvoiceCommandEnvelope& c, const std::string& id, const std::string& reason) {
          c.set_invoice_id(id);
          if (action == "cancel")
            c.mutable_cancel()->set_reason(reason);
          else
            c.mutable_close()->set_reason(reason);
        },
        [&](const std::string& id) -> std::optional<json> {
          auto s = d_.follower->Invoice(id);
          if (!s || s->merchant_id != who.merchant_id) return std::nullopt;
          return InvoiceObject(*s);
        });
  }

 private:
  // An action with a reason on one of the merchant's aggregates (path id): `fill` sets the
  // envelope's id and command, `object` answers the aggregate as it is now if it is the
  // merchant's (nullopt: 404). Appends, waits for the decision, answers 200 or the refusal.
  template <class Envelope, class Fill, class Object>
  http::Response ReasonAction(const http::Request& req, const Principal& who, log::TopicKind topic,
                              const char* what, Fill fill, Object object) {
    std::string key;
    if (auto refused = Key(req, false, &key)) return *refused;
    json body;
    if (auto refused = Body(req, &body)) return *refused;
    std::string reason;
    if (auto refused = ParseReason(body, &reason)) return *refused;
    const std::string id = req.path_params[0];
    if (id.size() > kMaxAggregateIdLength || !object(id)) return NotFound(what);
    Envelope c;
    c.set_merchant_id(who.merchant_id);
    c.set_correlation_id(CorrelationIdFor(key));
    fill(c, id, reason);
    if (auto refused = Send(topic, id, &c)) return refused->response;
    std::optional<json> now = object(id);
    if (!now) return NotSeen();
    return http::Json(200, *now);
  }

  std::optional<order::OrderState> OwnOrder(const Principal& who, const std::string& id) const {
    if (id.size() > kMaxAggregateIdLength) return std::nullopt;
    auto s = d_.follower->Order(id);
    if (!s || s->merchant_id != who.merchant_id) return std::nullopt;
    return s;
  }
  std::optional<invoice::InvoiceState> OwnInvoice(const Principal& who,
                                                  const std::string& id) const {
    if (id.size() > kMaxAggregateIdLength) return std::nullopt;
    auto s = d_.follower->Invoice(id);
    if (!s || s->merchant_id != who.merchant_id) return std::nullopt;
    return s;
  }

  // The Idempotency-Key, trimmed by the parser's rule; without one (when not required) a
  // key of its own no other request can name.
  std::optional<http::Response> Key(const http::Request& req, bool required, std::string* out) {
    const auto header = req.Header("Idempotency-Key");
    if (!header) {
      if (required)
        return http::Error(400, "idempotency_key_missing",
                           "this request needs an Idempotency-Key: the ids it creates are derived "
                           "from it, so a retry with the same key finishes the same work");
      *out = "auto_" + StableHasher()
                           .Add(req.request_id)
                           .Add(static_cast<int64_t>(nonce_))
                           .Add(static_cast<int64_t>(counter_.fetch_add(1)))
                           .Hex();
      return std::nullopt;
    }
    *out = std::string(command::Trim(*header));
    if (out->empty())
      return http::Error(400, "idempotency_key_empty",
                         "the Idempotency-Key header is blank; send a key or no header");
    if (out->size() > kMaxKeyLength)
      return http::Error(400, "idempotency_key_too_long", "Idempotency-Key is over 255 bytes");
    if (command::IsCardNumberKey(*out)) {
      FieldErrors errs;
      errs.Add("Idempotency-Key", "card_number",
               "an Idempotency-Key must not carry a card number (it is kept in the log)");
      return errs.Response();
    }
    return std::nullopt;
  }

  static std::optional<http::Response> Body(const http::Request& req, json* body) {
    *body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!body->is_object())
      return http::Error(400, "invalid_json", "the body is not a JSON object");
    return std::nullopt;
  }

  static http::Response NotSeen() {
    return http::Error(503, "decision_pending",
                       "the command was appended but its decision was not seen in time; retry "
                       "with the same Idempotency-Key");
  }

  // Appends `c` (schema 1; `command_id`, or a unique one when empty) keyed by `key` and
  // waits for its decision: nothing when it was decided or deduplicated, else the answer (a
  // rejection is final, a log or wait failure is not).
  template <class Envelope>
  std::optional<Step> Send(log::TopicKind topic, const std::string& key, Envelope* c,
                           std::string command_id = "") {
    c->set_schema_version(1);
    if (command_id.empty())
      command_id = "api-" + StableHasher()
                                .Add(key)
                                .Add(static_cast<int64_t>(nonce_))
                                .Add(static_cast<int64_t>(counter_.fetch_add(1)))
                                .Hex();
    c->set_command_id(std::move(command_id));
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(d_.config->wait_ms);
    auto waiter = d_.follower->Expect(c->command_id());
    std::string err = d_.appender->Append(
        {.topic = d_.kafka->Topic(topic), .key = key, .value = c->SerializeAsString()},
        d_.config->append_timeout_ms);
    if (!err.empty()) {
      d_.follower->Wait(waiter, std::chrono::steady_clock::now());  // forgets it
      spdlog::warn("merchant api: append to {} failed: {}", d_.kafka->Topic(topic), err);
      return Step{http::Error(503, "log_unavailable",
                              "the log could not be reached; retry with the same "
                              "Idempotency-Key"),
                  false};
    }
    const AggregateDecision d = d_.follower->Wait(waiter, deadline);
    if (!d.decided) return Step{NotSeen(), false};
    if (d.rejected()) return Step{AggregateRejection(d), true};
    return std::nullopt;
  }

  // A POST /v1/payments answer that created no payment (400 or 422: the request or the
  // merchant's plans refused it), so no event of it will reach the saga.
  static bool RefusedBeforeItExists(const http::Response& r) {
    return r.status == 400 || r.status == 422;
  }
  // Why, for the release: the error's code and message, within the cores' text limit.
  static std::string RefusalDetail(const http::Response& r) {
    const json p = json::parse(r.body, nullptr, false);
    std::string text = "payment refused (" + std::to_string(r.status) + ")";
    if (p.is_object() && p.contains("error") && p["error"].is_object())
      text += ": " + p["error"].value("code", std::string()) + ": " +
              p["error"].value("message", std::string());
    return std::string(command::CutUtf8(text, invoice::kMaxTextLength));
  }

  // POST /v1/payments with `body` under `pay_key`, as the merchant would send it.
  http::Response CreatePayment(const http::Request& outer, const Principal& who,
                               const std::string& pay_key, const json& body) {
    http::Request r;
    r.method = "POST";
    r.path = "/v1/payments";
    r.body = body.dump();
    r.headers.emplace("Idempotency-Key", pay_key);
    r.remote_addr = outer.remote_addr;
    r.request_id = outer.request_id;
    return d_.create_payment(r, who);
  }

  // The answer of a checkout or invoice payment: {<name>: object, payment: PaymentIntent}.
  // 201 once the payment settled, 202 (pending: a retry answers again) while it is in
  // flight, 402 with the object beside the card error when it declined, the payment's
  // error otherwise (final unless 5xx).
  template <class ObjectFn>
  static Step Combine(const char* name, ObjectFn object, http::Response payment) {
    json p = json::parse(payment.body, nullptr, false);
    if (payment.status == 200 || payment.status == 201 || payment.status == 202) {
      const bool settled = payment.status != 202;
      return {http::Json(settled ? 201 : 202, {{name, object()}, {"payment", std::move(p)}}),
              settled};
    }
    if (payment.status == 402 && p.is_object() && p["error"].is_object()) {
      p["error"][name] = object();
      return {http::Json(402, p), true};
    }
    return {std::move(payment), payment.status < 500};
  }

  // Claims the Idempotency-Key, replays a final answer, or runs `steps` (again, for a
  // pending key: every step is idempotent) and stores a final answer.
  template <class Steps>
  http::Response Keyed(const http::Request& req, const Principal& who, const std::string& key,
                       const json& body, Steps steps) {
    const std::string hash = StableHasher().Add(req.method).Add(req.path).Add(body.dump()).Hex();
    StoredResponse pending;
    pending.request_hash = hash;
    pending.created_ms = d_.clock->NowMs();
    StoredResponse existing;
    using Claim = ResponseStore::Claim;
    const Claim claim =
        d_.responses->TryClaim(who.merchant_id, key, pending, &existing, pending.created_ms,
                               d_.config->idempotency_window_ms);
    if (claim == Claim::kUnavailable) return StoreUnavailable();
    if (claim == Claim::kExisting) {
      if (existing.request_hash != hash)
        return http::Error(409, "idempotency_key_reused",
                           "this Idempotency-Key was used with another request");
      if (existing.final) {
        http::Response r = Raw(existing.status, existing.body);
        r.headers.emplace_back("Idempotent-Replayed", "true");
        return r;
      }
      pending = existing;  // a retry of an unfinished request: redo what remains
    }
    Step s = steps();
    if (s.final) {
      pending.final = true;
      pending.status = s.response.status;
      pending.body = s.response.body;
      d_.responses->Finish(who.merchant_id, key, pending).IgnoreError();  // logged; stays pending
    }
    return std::move(s.response);
  }

  CommerceDeps d_;
  const uint64_t nonce_ = std::random_device{}() * 0x100000000ULL ^ std::random_device{}();
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

std::vector<CommerceRoute> CommerceRouteSpecs() {
  return {{"POST", "/v1/checkout", "/v1/checkout", {}},
          {"GET", "/v1/orders/{id}", "/v1/orders/([^/]+)", {}},
          {"POST", "/v1/orders/{id}/cancel", "/v1/orders/([^/]+)/cancel", {}},
          {"POST", "/v1/invoices", "/v1/invoices", {}},
          {"GET", "/v1/invoices/{id}", "/v1/invoices/([^/]+)", {}},
          {"POST", "/v1/invoices/{id}/payments", "/v1/invoices/([^/]+)/payments", {}},
          {"POST", "/v1/invoices/{id}/supplementary", "/v1/invoices/([^/]+)/supplementary", {}},
          {"POST", "/v1/invoices/{id}/cancel", "/v1/invoices/([^/]+)/cancel", {}},
          {"POST", "/v1/invoices/{id}/close", "/v1/invoices/([^/]+)/close", {}}};
}

std::vector<CommerceRoute> CommerceRoutes(const CommerceDeps& deps) {
  auto c = std::make_shared<Commerce>(deps);
  using Method = http::Response (Commerce::*)(const http::Request&, const Principal&);
  const auto bind = [c](Method m) -> AuthedHandler { return std::bind_front(m, c.get()); };
  const auto action = [c](const char* name) -> AuthedHandler {
    const std::string what = name;
    return [c, what](const http::Request& r, const Principal& w) {
      return c->InvoiceAction(what, r, w);
    };
  };
  std::vector<CommerceRoute> routes = CommerceRouteSpecs();
  const AuthedHandler handlers[] = {bind(&Commerce::Checkout),
                                    bind(&Commerce::GetOrder),
                                    bind(&Commerce::CancelOrder),
                                    bind(&Commerce::CreateInvoice),
                                    bind(&Commerce::GetInvoice),
                                    bind(&Commerce::PayInvoice),
                                    bind(&Commerce::IssueSupplementary),
                                    action("cancel"),
                                    action("close")};
  for (size_t i = 0; i < routes.size(); ++i) {
    // Each handler keeps the Commerce alive.
    routes[i].handler = [c, h = handlers[i]](const http::Request& r, const Principal& w) {
      return h(r, w);
    };
  }
  return routes;
}

}  // namespace payorch::api::internal
