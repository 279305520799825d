#include "api/internal/answers.h"

#include <cctype>
#include <string_view>
#include <utility>

#include "api/internal/objects.h"
#include "command/hash.h"
#include "command/parser.h"

namespace payorch::api::internal {

namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;
namespace pv = ::payments::projection::v1;
using json = nlohmann::json;

namespace {

// The field a rejection reason is about, for 422 details.
std::string FieldOf(ev::RejectReason r) {
  switch (r) {
    case ev::REJECT_REASON_AMOUNT_NOT_POSITIVE:
    case ev::REJECT_REASON_AMOUNT_TOO_LARGE:
    case ev::REJECT_REASON_AMOUNT_PRECISION:
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

}  // namespace

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

http::Response Finalize(http::Response r) {
  r.headers.emplace_back("Payorch-Version", kApiVersion);
  if (r.status < 400) return r;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return r;
  json& e = body["error"];
  const std::string code = e.value("code", "");
  e["type"] = ErrorType(r.status, code);
  json param = nullptr;
  if (e.contains("details") && e["details"].is_object()) {
    json& d = e["details"];
    if (d.contains("fields") && d["fields"].is_array()) {
      for (auto& f : d["fields"]) {
        if (f.contains("field") && f["field"].is_string())
          f["field"] = PublicField(f["field"].get<std::string>());
        if (f.contains("message") && f["message"].is_string())
          f["message"] = PublicMessage(f["message"].get<std::string>());
      }
      if (!d["fields"].empty() && d["fields"][0].contains("field")) param = d["fields"][0]["field"];
    }
    if (param.is_null() && d.contains("parameter")) param = d["parameter"];
    if (d.contains("detail") && d["detail"].is_string())
      d["detail"] = PublicMessage(d["detail"].get<std::string>());
  }
  e["param"] = param;
  if (e.contains("message") && e["message"].is_string())
    e["message"] = PublicMessage(e["message"].get<std::string>());
  r.body = body.dump();
  return r;
}

types::PaymentMethod MethodField(const json& body, bool required, FieldErrors* errs) {
  static constexpr std::pair<std::string_view, types::PaymentMethod> kMethods[] = {
      {"card", types::PAYMENT_METHOD_CARD},
      {"apple_pay", types::PAYMENT_METHOD_APPLE_PAY},
      {"google_pay", types::PAYMENT_METHOD_GOOGLE_PAY},
      {"bank_transfer", types::PAYMENT_METHOD_BANK_TRANSFER},
  };
  auto method = StrField(body, "payment_method", required, errs);
  if (!method) return types::PAYMENT_METHOD_UNSPECIFIED;
  for (const auto& [name, m] : kMethods) {
    if (*method == name) return m;
  }
  errs->Add("payment_method", "invalid_value", "one of card, apple_pay, google_pay, bank_transfer");
  return types::PAYMENT_METHOD_UNSPECIFIED;
}

bool Settled(const ::payments::projection::v1::PaymentView& v) {
  return v.status() != ev::PAYMENT_STATUS_AUTHORIZING &&
         v.status() != ev::PAYMENT_STATUS_PROCESSING && v.captures_in_flight() == 0 &&
         v.voids_in_flight() == 0 && v.refunds_in_flight() == 0;
}

http::Response Overloaded(int retry_after_s) {
  http::Response r = http::Error(
      503, "overloaded",
      "payorch takes no new payment now (its processors are saturated); nothing was done, "
      "retry after Retry-After seconds with the same Idempotency-Key");
  r.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after_s)));
  return r;
}

http::Response StoreUnavailable() {
  return http::Error(503, "store_unavailable",
                     "the idempotency store could not be read or written; nothing was done, "
                     "retry with the same Idempotency-Key");
}

http::Response PaymentAnswer(int ok_status, json object) {
  if (object.value("status", "") != "requires_payment_method") {
    return Raw(ok_status, object.dump());
  }
  json error = object["last_payment_error"].is_object() ? object["last_payment_error"]
                                                        : json{{"code", "payment_failed"}};
  error["status"] = 402;
  if (!error.contains("message") || error["message"] == "") {
    error["message"] = "The payment failed; confirm it again with another payment method.";
  }
  error["payment_intent"] = std::move(object);
  return Raw(402, json{{"error", std::move(error)}}.dump());
}

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

std::optional<http::Response> ParseCreate(const json& body, const std::string& merchant_id,
                                          const std::string& idem, cmd::CommandEnvelope* envelope) {
  FieldErrors errs;
  CheckKnown(body,
             {"amount", "currency", "payment_method", "capture_method", "confirm",
              "customer_reference", "metadata"},
             &errs);
  auto amount = IntField(body, "amount", true, &errs);
  auto currency = StrField(body, "currency", true, &errs);
  const types::PaymentMethod pm = MethodField(body, true, &errs);
  auto capture = StrField(body, "capture_method", false, &errs);
  auto reference = StrField(body, "customer_reference", false, &errs);
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
  // The writer's limits (command/parser.h), checked here so nothing it would reject for
  // them is appended.
  if (reference && command::Trim(*reference).size() > command::kMaxReferenceLength)
    errs.Add("customer_reference", "too_long", "at most 255 bytes");
  if (body.contains("metadata")) {
    const json& m = body["metadata"];
    if (!m.is_object()) {
      errs.Add("metadata", "invalid_type", "an object of strings");
    } else if (m.size() > command::kMaxMetadataEntries) {
      errs.Add("metadata", "too_many_entries", "at most 50 entries");
    } else {
      // The field's name is built only for an entry that is refused (this runs per create).
      const auto field = [](const std::string& k) {
        return "metadata." + command::TruncateUtf8(k, command::kMaxMetadataKeyLength);
      };
      for (const auto& [k, v] : m.items()) {
        if (!v.is_string())
          errs.Add(field(k), "invalid_type", "a string");
        else if (!command::IsValidMetadataEntry(k, v.get_ref<const std::string&>()))
          errs.Add(field(k), "too_long", "keys 1-40 bytes once trimmed, values at most 500 bytes");
      }
    }
  }
  if (!errs.empty()) return errs.Response();
  auto* c = envelope->mutable_create();
  c->set_merchant_id(merchant_id);
  c->mutable_amount()->set_amount_minor(*amount);
  c->mutable_amount()->set_currency(*currency);
  c->set_method(pm);
  c->set_idempotency_key(idem);
  c->set_capture_mode(cm);
  c->set_confirm(confirm);
  // No card number reaches the log from here (the writer would redact it in its events, but
  // the command would keep it).
  if (reference) c->set_customer_reference(command::RedactPan(*reference));
  if (body.contains("metadata"))
    for (const auto& [k, v] : body["metadata"].items())
      (*c->mutable_metadata())[command::RedactPan(k)] =
          command::RedactPan(v.get_ref<const std::string&>());
  return std::nullopt;
}

std::string MetadataJson(const cmd::CreatePayment& create) {
  json out = json::object();
  for (const auto& [k, v] : create.metadata()) out[k] = v;
  return out.dump();
}

http::Response Raw(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string RefundJson(const pv::PaymentView& v, const std::string& refund_id) {
  json r = Refund(v, refund_id);
  if (r.is_null())
    r = {
        {"id", refund_id.empty() ? json(nullptr) : json(PublicRefundId(v.payment_id(), refund_id))},
        {"object", "refund"},
        {"payment_intent", v.payment_id()},
        {"status", "pending"}};
  return r.dump();
}

http::Response AcceptedRefund(const std::string& payment_id,
                              const std::optional<pv::PaymentView>& v,
                              const std::string& refund_id) {
  if (v) return Raw(202, RefundJson(*v, refund_id));
  return http::Json(
      202, {{"id", refund_id.empty() ? json(nullptr) : json(PublicRefundId(payment_id, refund_id))},
            {"object", "refund"},
            {"payment_intent", payment_id},
            {"status", "pending"}});
}

http::Response ListObject(json data, std::string next_cursor) {
  const bool more = !next_cursor.empty();
  return http::Json(200, {{"object", "list"},
                          {"data", std::move(data)},
                          {"has_more", more},
                          {"next_cursor", std::move(next_cursor)}});
}

std::optional<http::Response> ListQuery(const http::Request& request,
                                        const std::string& merchant_id, http::Request* query) {
  query->method = "GET";
  query->path_params = {merchant_id};
  for (const auto& [k, v] : request.query) {
    if (k == "created_from")
      query->query.emplace("from", v);
    else if (k == "created_to")
      query->query.emplace("to", v);
    else if (k == "status" || k == "limit" || k == "cursor")
      query->query.emplace(k, v);
    else
      return http::Error(400, "bad_parameter", "unknown query parameter " + k, {{"parameter", k}});
  }
  return std::nullopt;
}

http::Response PublicListError(http::Response r) {
  if (r.status != 400) return r;
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_object() && body["error"]["details"].is_object()) {
    std::string p = body["error"]["details"].value("parameter", "");
    if (p == "from" || p == "to") body["error"]["details"]["parameter"] = "created_" + p;
    r.body = body.dump();
  }
  return r;
}

std::optional<http::Response> ParseFollowUp(const std::string& action, const json& body,
                                            const std::string& idem,
                                            cmd::CommandEnvelope* envelope) {
  FieldErrors errs;
  if (action == "confirm") {
    CheckKnown(body, {"payment_method"}, &errs);
    const types::PaymentMethod method = MethodField(body, false, &errs);
    if (!errs.empty()) return errs.Response();
    envelope->mutable_confirm()->set_method(method);
  } else if (action == "capture") {
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
    auto* cap = envelope->mutable_capture();
    cap->set_amount_minor(amount.value_or(0));
    cap->set_idempotency_key(idem);
    cap->set_final_capture(final_capture);
  } else if (action == "refunds") {
    CheckKnown(body, {"amount", "reason"}, &errs);
    auto amount = IntField(body, "amount", true, &errs);
    auto reason = StrField(body, "reason", false, &errs);
    if (!errs.empty()) return errs.Response();
    auto* ref = envelope->mutable_refund();
    ref->set_amount_minor(*amount);
    ref->set_idempotency_key(idem);
    ref->set_reason(reason.value_or(""));
  } else {  // void, cancel
    CheckKnown(body, {"reason"}, &errs);
    auto reason = StrField(body, "reason", false, &errs);
    if (!errs.empty()) return errs.Response();
    if (action == "void")
      envelope->mutable_void_()->set_reason(reason.value_or(""));
    else
      envelope->mutable_cancel()->set_reason(reason.value_or(""));
  }
  return std::nullopt;
}

}  // namespace payorch::api::internal
