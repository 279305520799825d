#include "connectors/stripe_gateway.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using nlohmann::json;
using Form = std::vector<std::pair<std::string, std::string>>;

namespace {

constexpr char kFormType[] = "application/x-www-form-urlencoded";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// j[field] when j is an object holding it, else null (never throws).
const json& Field(const json& j, const char* field) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(field);
  return it == j.end() ? kNull : *it;
}

std::string Text(const json& j, const char* field) {
  if (!j.is_object()) return "";
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Integer(const json& j, const char* field) {
  if (!j.is_object()) return 0;
  auto it = j.find(field);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

GatewayAnswer Answer(cmd::GatewayOutcome outcome, ErrorCode code) {
  GatewayAnswer a;
  a.outcome = outcome;
  a.error_code = code;
  return a;
}

GatewayAnswer Unknown() { return Answer(cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT); }

GatewayAnswer Succeeded(int64_t amount) {
  GatewayAnswer a = Answer(cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED);
  a.amount_processed_minor = amount;
  return a;
}

// The code of a Stripe error object: decline_code first (card errors), else code.
std::string CodeOf(const json& error) {
  std::string code = Text(error, "decline_code");
  return code.empty() ? Text(error, "code") : code;
}

// A PaymentIntent's last_payment_error as payorch's code.
ErrorCode LastPaymentError(const json& pi) {
  auto it = pi.find("last_payment_error");
  if (it == pi.end() || !it->is_object()) return types::ERROR_CODE_UNKNOWN;
  if (Text(*it, "type") != "card_error") return types::ERROR_CODE_UNKNOWN;
  return MapStripeDeclineCode(CodeOf(*it));
}

GatewayAnswer MapObject(StripeObject object, const json& j) {
  const std::string status = Text(j, "status");
  const int64_t amount = Integer(j, "amount");
  auto either = [](int64_t first, int64_t second) { return first > 0 ? first : second; };
  GatewayAnswer a = Unknown();
  switch (object) {
    case StripeObject::kCharge:
      if (status == "requires_capture") {
        a = Succeeded(either(Integer(j, "amount_capturable"), amount));
      } else if (status == "succeeded") {
        a = Succeeded(either(Integer(j, "amount_received"), amount));
      } else if (status == "requires_action") {
        // payorch has no 3-D Secure flow yet: the customer cannot authenticate, so the
        // attempt is a (soft) decline, authentication_required.
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED);
      } else if (status == "requires_payment_method") {
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, LastPaymentError(j));
      } else if (status == "requires_confirmation" || status == "canceled") {
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
      }  // processing and anything else: UNKNOWN, reconciled by id
      break;
    case StripeObject::kCapture:
      if (status == "succeeded") {
        a = Succeeded(either(Integer(j, "amount_received"), amount));
      } else if (status == "canceled") {
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
      }
      break;
    case StripeObject::kCancel:
      if (status == "canceled") {
        a = Succeeded(amount);
      } else if (status == "succeeded") {  // captured: there is nothing left to release
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
      }
      break;
    case StripeObject::kRefund:
      if (status == "succeeded") {
        a = Succeeded(amount);
      } else if (status == "failed" || status == "canceled") {
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
      }  // pending, requires_action: UNKNOWN, reconciled by id
      break;
  }
  a.processor_reference = Text(j, "id");
  return a;
}

bool ParseU32(std::string_view text, uint32_t max, uint32_t* out) {
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v > max) {
    return false;
  }
  *out = v;
  return true;
}

// Stripe's search query language quotes values with '; escape \ and '.
std::string SearchQuery(std::string_view key) {
  std::string quoted;
  for (char c : key) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "metadata['payorch_key']:'" + quoted + "'";
}

Form ChargeForm(const GatewayRequest& r, const std::string& payment_method, bool confirm) {
  Form f = {{"amount", std::to_string(r.amount_minor)},
            {"currency", Lower(r.currency)},
            {"confirm", confirm ? "true" : "false"},
            {"capture_method", r.kind == ev::OPERATION_KIND_SALE ? "automatic" : "manual"},
            {"payment_method", payment_method},
            {"payment_method_types[0]", "card"},
            {"metadata[payorch_key]", r.idempotency_key},
            {"metadata[payment_id]", r.payment_id},
            {"metadata[step_index]", std::to_string(r.step_index)}};
  return f;
}

}  // namespace

ErrorCode MapStripeDeclineCode(std::string_view code) {
  for (std::string_view c : {"incorrect_number", "invalid_number", "invalid_cvc", "incorrect_cvc",
                             "invalid_expiry_month", "invalid_expiry_year", "incorrect_zip"}) {
    if (code == c) return types::ERROR_CODE_INVALID_CARD;
  }
  for (std::string_view c : {"fraudulent", "lost_card", "stolen_card", "pickup_card",
                             "restricted_card", "merchant_blacklist"}) {
    if (code == c) return types::ERROR_CODE_HARD_DECLINE;
  }
  return types::ERROR_CODE_DECLINED;  // generic_decline, insufficient_funds, expired_card, ...
}

GatewayAnswer MapStripeAnswer(StripeObject object, Transport transport, int status,
                              std::string_view body, bool retrieve) {
  GatewayAnswer a;
  switch (transport) {
    case Transport::kNotSent:  // nothing reached Stripe
      return Answer(retrieve ? cmd::GATEWAY_OUTCOME_UNKNOWN : cmd::GATEWAY_OUTCOME_FAILED,
                    types::ERROR_CODE_NETWORK_FAILURE);
    case Transport::kTimedOut:
    case Transport::kBrokenAfterSend:
      return Unknown();
    case Transport::kAnswered:
      break;
  }
  const json j = json::parse(body, nullptr, false);
  if (status == 200 || status == 201) {
    return j.is_object() ? MapObject(object, j) : Unknown();
  }
  const json& error = Field(j, "error");
  const std::string type = Text(error, "type");
  switch (status) {
    case 402:  // card_error: a decision on the card
      a = Answer(cmd::GATEWAY_OUTCOME_FAILED, MapStripeDeclineCode(CodeOf(error)));
      a.processor_reference = Text(Field(error, "payment_intent"), "id");
      return a;
    case 409:  // another request under the same key is in flight: its outcome is open
      return Unknown();
    case 429:  // rate limited: not processed
    case 500:
    case 502:
    case 503:
      a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
      break;
    case 504:
      return Unknown();
    default:
      if (status == 400 && type == "idempotency_error") {
        // The key holds another request, e.g. the seal a retrieve sent: nothing happened
        // under this request; retryable like the failure that led to the seal.
        a = Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
        break;
      }
      if (status >= 400 && status < 500) {  // refused: invalid request, credentials
        return Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
      }
      return Unknown();
  }
  // The failures that leave the key open: a retrieve cannot tell what happened.
  return retrieve ? Unknown() : a;
}

StatusOr<StripeGatewayOptions> ParseStripeGatewaySpec(std::string_view spec) {
  StripeGatewayOptions o;
  auto fail = [](const std::string& what) {
    return InvalidArgumentError("stripe gateway spec: " + what);
  };
  std::string secret_env;
  std::string_view rest = spec;
  while (!Trim(rest).empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return fail("'" + std::string(item) + "' is not key=value");
    const std::string key(Trim(item.substr(0, eq)));
    const std::string value(Trim(item.substr(eq + 1)));
    if (key == "secret_env") {
      secret_env = value;
    } else if (key == "base_url") {
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
        return fail("base_url must start with http:// or https://");
      }
      o.base_url = value;
      while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
    } else if (key == "stripe_version") {
      if (value.empty()) return fail("stripe_version is empty");
      o.stripe_version = value;
    } else if (key == "payment_method") {
      o.payment_method = value;
    } else if (key == "timeout_ms") {
      if (!ParseU32(value, 600'000, &o.timeout_ms) || o.timeout_ms == 0) {
        return fail("timeout_ms must be an integer in [1, 600000]");
      }
    } else if (key == "connect_timeout_ms") {
      if (!ParseU32(value, 600'000, &o.connect_timeout_ms) || o.connect_timeout_ms == 0) {
        return fail("connect_timeout_ms must be an integer in [1, 600000]");
      }
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  if (secret_env.empty())
    return fail("secret_env (the variable holding the secret key) is required");
  const char* secret = std::getenv(secret_env.c_str());
  if (secret == nullptr || *secret == '\0') {
    return fail("environment variable " + secret_env + " (secret_env) is not set");
  }
  o.secret_key = secret;
  if (o.payment_method.empty()) return fail("payment_method is required (e.g. pm_card_visa)");
  return o;
}

StripeGateway::StripeGateway(StripeGatewayOptions options)
    : options_(std::move(options)),
      client_(HttpClientOptions{.base_url = options_.base_url,
                                .timeout_ms = options_.timeout_ms,
                                .connect_timeout_ms = options_.connect_timeout_ms,
                                .bearer_token = options_.secret_key,
                                .on_result = options_.on_result}) {}

StatusOr<std::unique_ptr<StripeGateway>> StripeGateway::Create(StripeGatewayOptions options) {
  if (options.base_url.empty()) return InvalidArgumentError("stripe gateway: empty base_url");
  if (options.secret_key.empty()) return InvalidArgumentError("stripe gateway: no secret key");
  if (options.payment_method.empty())
    return InvalidArgumentError("stripe gateway: no payment_method");
  if (options.remembered_keys == 0) options.remembered_keys = 1;
  return std::unique_ptr<StripeGateway>(new StripeGateway(std::move(options)));
}

StatusOr<std::unique_ptr<StripeGateway>> StripeGateway::FromSpec(const std::string& processor_id,
                                                                 std::string_view spec) {
  auto parsed = ParseStripeGatewaySpec(spec);
  if (!parsed.ok()) return parsed.status();
  parsed.value().processor_id = processor_id;
  return Create(std::move(parsed.value()));
}

HttpResult StripeGateway::Post(const std::string& path, const std::string& body,
                               const std::string& key, uint32_t timeout_ms) {
  HttpCall call;
  call.post = true;
  call.path = path;
  call.body = body;
  call.content_type = kFormType;
  call.headers = {{"Stripe-Version", options_.stripe_version}, {"Idempotency-Key", key}};
  call.timeout_ms = timeout_ms;
  return client_.Perform(call);
}

HttpResult StripeGateway::Get(const std::string& path) {
  HttpCall call;
  call.path = path;
  call.content_type = kFormType;
  call.headers = {{"Stripe-Version", options_.stripe_version}};
  return client_.Perform(call);
}

std::optional<HttpCall> StripeGateway::CallFor(const GatewayRequest& r) const {
  HttpCall call;
  Form form;
  switch (r.kind) {
    case ev::OPERATION_KIND_AUTHORIZE:
    case ev::OPERATION_KIND_SALE:
      if (r.method == types::PAYMENT_METHOD_BANK_TRANSFER) return std::nullopt;
      call.path = "/v1/payment_intents";
      form = ChargeForm(r, options_.payment_method, /*confirm=*/true);
      break;
    case ev::OPERATION_KIND_CAPTURE:
      if (r.target_reference.empty()) return std::nullopt;
      call.path = "/v1/payment_intents/" + PercentEncode(r.target_reference) + "/capture";
      form = {{"amount_to_capture", std::to_string(r.amount_minor)}};
      break;
    case ev::OPERATION_KIND_VOID:
      if (r.target_reference.empty()) return std::nullopt;
      call.path = "/v1/payment_intents/" + PercentEncode(r.target_reference) + "/cancel";
      break;
    case ev::OPERATION_KIND_REFUND:
      if (r.target_reference.empty()) return std::nullopt;
      call.path = "/v1/refunds";
      form = {{"payment_intent", r.target_reference},
              {"amount", std::to_string(r.amount_minor)},
              {"metadata[payorch_key]", r.idempotency_key},
              {"metadata[payment_id]", r.payment_id}};
      break;
    default:
      return std::nullopt;
  }
  call.body = FormEncode(form);
  return call;
}

namespace {

StripeObject ObjectOf(OperationKind kind) {
  switch (kind) {
    case ev::OPERATION_KIND_CAPTURE:
      return StripeObject::kCapture;
    case ev::OPERATION_KIND_VOID:
      return StripeObject::kCancel;
    case ev::OPERATION_KIND_REFUND:
      return StripeObject::kRefund;
    default:
      return StripeObject::kCharge;
  }
}

bool IsCharge(OperationKind kind) {
  return kind == ev::OPERATION_KIND_AUTHORIZE || kind == ev::OPERATION_KIND_SALE;
}

}  // namespace

GatewayAnswer StripeGateway::Execute(const GatewayRequest& request) {
  const std::optional<HttpCall> call = CallFor(request);
  if (!call) {  // Stripe cannot do it (bank transfer, no target): nothing is sent
    return Answer(cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN);
  }
  Remember(request);  // before the call: a retrieve must know what may be under the key
  const HttpResult r = Post(call->path, call->body, request.idempotency_key, request.timeout_ms);
  GatewayAnswer a =
      MapStripeAnswer(ObjectOf(request.kind), r.transport, r.status, r.body, /*retrieve=*/false);
  a.latency_ms = r.latency_ms;
  if (IsCharge(request.kind) || request.kind == ev::OPERATION_KIND_REFUND) {
    Learn(request.idempotency_key, a.processor_reference);
  }
  return a;
}

GatewayAnswer StripeGateway::Retrieve(std::string_view idempotency_key) {
  const std::optional<Known> known = Recall(idempotency_key);
  if (!known) return Search(idempotency_key);
  if (IsCharge(known->request.kind)) return RetrieveCharge(*known);
  if (known->request.kind == ev::OPERATION_KIND_REFUND && !known->object_id.empty()) {
    const HttpResult r = Get("/v1/refunds/" + PercentEncode(known->object_id));
    GatewayAnswer a = MapStripeAnswer(StripeObject::kRefund, r.transport, r.status, r.body, true);
    a.latency_ms = r.latency_ms;
    return a;
  }
  // Capture, void, a refund without an id: the same request again under the same key.
  // Stripe answers with what the first one did, or does it now.
  const std::optional<HttpCall> call = CallFor(known->request);
  if (!call) return Unknown();
  const HttpResult r = Post(call->path, call->body, known->request.idempotency_key, 0);
  GatewayAnswer a =
      MapStripeAnswer(ObjectOf(known->request.kind), r.transport, r.status, r.body, true);
  a.latency_ms = r.latency_ms;
  if (known->request.kind == ev::OPERATION_KIND_REFUND) {
    Learn(known->request.idempotency_key, a.processor_reference);
  }
  return a;
}

GatewayAnswer StripeGateway::RetrieveCharge(const Known& known) {
  const std::string& key = known.request.idempotency_key;
  if (!known.object_id.empty()) {
    const HttpResult r = Get("/v1/payment_intents/" + PercentEncode(known.object_id));
    GatewayAnswer a = MapStripeAnswer(StripeObject::kCharge, r.transport, r.status, r.body, true);
    a.latency_ms = r.latency_ms;
    return a;
  }
  // Seal: an unconfirmed PaymentIntent (no money moves) under the key, marked as the seal.
  Form form = ChargeForm(known.request, options_.payment_method, /*confirm=*/false);
  form.emplace_back("metadata[payorch_seal]", "1");
  const HttpResult r = Post("/v1/payment_intents", FormEncode(form), key, 0);
  const json j = json::parse(r.body, nullptr, false);
  if (r.transport == Transport::kAnswered && r.status == 200 && j.is_object()) {
    if (Text(Field(j, "metadata"), "payorch_seal") == "1") {
      // The seal is what Stripe keeps under the key: nothing else happened and nothing
      // will. Its PaymentIntent is canceled; a failed cancel leaves it unconfirmed (no money).
      const std::string id = Text(j, "id");
      if (!id.empty()) {  // best effort: its answer changes nothing
        Post("/v1/payment_intents/" + PercentEncode(id) + "/cancel", "", key + "/seal-cancel", 0);
      }
      GatewayAnswer a = Answer(cmd::GATEWAY_OUTCOME_NOT_FOUND, types::ERROR_CODE_UNSPECIFIED);
      a.latency_ms = r.latency_ms;
      return a;
    }
    // Stripe answered with the original request's answer: that is what happened.
    GatewayAnswer a = MapObject(StripeObject::kCharge, j);
    if (a.outcome == cmd::GATEWAY_OUTCOME_FAILED && a.error_code == types::ERROR_CODE_UNKNOWN &&
        Text(j, "status") == "requires_confirmation") {
      a = Unknown();  // not a charge answer at all; cannot tell
    }
    Learn(key, a.processor_reference);
    a.latency_ms = r.latency_ms;
    return a;
  }
  if (r.transport == Transport::kAnswered &&
      (r.status == 409 ||
       (r.status == 400 && Text(Field(j, "error"), "type") == "idempotency_error"))) {
    return Search(key);  // another request holds the key: find its PaymentIntent
  }
  GatewayAnswer a = MapStripeAnswer(StripeObject::kCharge, r.transport, r.status, r.body, true);
  if (a.outcome != cmd::GATEWAY_OUTCOME_UNKNOWN) a = Unknown();  // a refused seal proves nothing
  a.latency_ms = r.latency_ms;
  return a;
}

GatewayAnswer StripeGateway::Search(std::string_view key) {
  const HttpResult r =
      Get("/v1/payment_intents/search?query=" + PercentEncode(SearchQuery(key)) + "&limit=10");
  GatewayAnswer a = Unknown();
  const json j = json::parse(r.body, nullptr, false);
  if (r.transport == Transport::kAnswered && r.status == 200 && j.is_object()) {
    const json& data = Field(j, "data");
    for (const json& pi : data.is_array() ? data : json::array()) {
      if (Text(Field(pi, "metadata"), "payorch_key") != key) continue;
      if (Text(Field(pi, "metadata"), "payorch_seal") == "1") {
        a = Answer(cmd::GATEWAY_OUTCOME_NOT_FOUND, types::ERROR_CODE_UNSPECIFIED);
        break;
      }
      a = MapObject(StripeObject::kCharge, pi);
      if (a.outcome != cmd::GATEWAY_OUTCOME_SUCCEEDED && a.outcome != cmd::GATEWAY_OUTCOME_FAILED) {
        a = Unknown();
      }
      break;
    }
  }
  a.latency_ms = r.latency_ms;
  return a;
}

void StripeGateway::Remember(const GatewayRequest& request) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = known_.try_emplace(request.idempotency_key);
  it->second.request = request;
  if (!fresh) return;
  order_.push_back(request.idempotency_key);
  while (order_.size() > options_.remembered_keys) {
    known_.erase(order_.front());
    order_.pop_front();
  }
}

void StripeGateway::Learn(const std::string& key, const std::string& object_id) {
  if (object_id.empty()) return;
  std::lock_guard lock(mu_);
  if (auto it = known_.find(key); it != known_.end()) it->second.object_id = object_id;
}

std::optional<StripeGateway::Known> StripeGateway::Recall(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = known_.find(std::string(key));
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

}  // namespace payorch::connectors
