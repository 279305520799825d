#include "connectors/http_gateway.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using nlohmann::json;

namespace {

bool ParseU32(std::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 9) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string MethodName(PaymentMethod m) {
  switch (m) {
    case types::PAYMENT_METHOD_CARD:
      return "card";
    case types::PAYMENT_METHOD_APPLE_PAY:
      return "apple_pay";
    case types::PAYMENT_METHOD_GOOGLE_PAY:
      return "google_pay";
    case types::PAYMENT_METHOD_BANK_TRANSFER:
      return "bank_transfer";
    default:
      return "unspecified";
  }
}

json ParseJson(std::string_view body) { return json::parse(body, nullptr, false); }

std::string ErrorCodeOf(const json& j) {
  if (!j.is_object()) return "";
  auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return "";
  auto c = e->find("code");
  return c != e->end() && c->is_string() ? c->get<std::string>() : "";
}

void FillSuccess(const json& j, GatewayAnswer* a) {
  a->outcome = cmd::GATEWAY_OUTCOME_SUCCEEDED;
  if (auto it = j.find("amount"); it != j.end() && it->is_number_integer()) {
    a->amount_processed_minor = it->get<int64_t>();
  }
  if (auto it = j.find("id"); it != j.end() && it->is_string()) {
    a->processor_reference = it->get<std::string>();
  }
}

}  // namespace

ErrorCode MapProcessorErrorCode(std::string_view code) {
  if (code == "card_declined" || code == "insufficient_funds" || code == "expired_card") {
    return types::ERROR_CODE_DECLINED;
  }
  if (code == "invalid_card" || code == "incorrect_number" || code == "invalid_cvc") {
    return types::ERROR_CODE_INVALID_CARD;
  }
  if (code == "hard_decline" || code == "fraudulent" || code == "stolen_card" ||
      code == "lost_card") {
    return types::ERROR_CODE_HARD_DECLINE;
  }
  if (code == "processor_unavailable" || code == "rate_limited") {
    return types::ERROR_CODE_PROCESSOR_UNAVAILABLE;
  }
  if (code == "network_failure") return types::ERROR_CODE_NETWORK_FAILURE;
  if (code == "timeout") return types::ERROR_CODE_TIMEOUT;
  return types::ERROR_CODE_UNKNOWN;
}

GatewayAnswer MapHttpAnswer(Transport transport, int status, std::string_view body, bool retrieve) {
  GatewayAnswer a;
  switch (transport) {
    case Transport::kNotSent:
      a.outcome = cmd::GATEWAY_OUTCOME_FAILED;
      a.error_code = types::ERROR_CODE_NETWORK_FAILURE;
      if (retrieve) a.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
      return a;
    case Transport::kTimedOut:
    case Transport::kBrokenAfterSend:
      a.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
      a.error_code = types::ERROR_CODE_TIMEOUT;
      return a;
    case Transport::kAnswered:
      break;
  }
  const json j = ParseJson(body);
  auto unknown = [&] {
    a.outcome = cmd::GATEWAY_OUTCOME_UNKNOWN;
    a.error_code = types::ERROR_CODE_TIMEOUT;
    return a;
  };
  if (retrieve) {
    if (status == 404) {
      a.outcome = cmd::GATEWAY_OUTCOME_NOT_FOUND;
      return a;
    }
    if (status != 200 || !j.is_object()) return unknown();
    const std::string state = j.value("status", "");
    if (state == "succeeded") {
      FillSuccess(j, &a);
      return a;
    }
    if (state == "failed") {
      a.outcome = cmd::GATEWAY_OUTCOME_FAILED;
      a.error_code = MapProcessorErrorCode(ErrorCodeOf(j));
      return a;
    }
    return unknown();
  }
  if (status == 200 || status == 201) {
    if (!j.is_object() || j.value("status", "") != "succeeded") return unknown();
    FillSuccess(j, &a);
    return a;
  }
  a.outcome = cmd::GATEWAY_OUTCOME_FAILED;
  if (status == 409 && ErrorCodeOf(j) == "idempotency_key_sealed") {
    // Nothing happened under the key and nothing will: the retryable failure that led a
    // connector to seal it (docs/gateway-api.md), never a refusal that ends the plan.
    a.error_code = types::ERROR_CODE_PROCESSOR_UNAVAILABLE;
    return a;
  }
  switch (status) {
    case 402:  // a decision on the card
      a.error_code = MapProcessorErrorCode(ErrorCodeOf(j));
      if (a.error_code == types::ERROR_CODE_UNKNOWN) a.error_code = types::ERROR_CODE_DECLINED;
      return a;
    case 429:  // rate limited: not processed
    case 500:
    case 502:
    case 503:  // the API guarantees nothing was processed (docs/gateway-api.md)
      a.error_code = types::ERROR_CODE_PROCESSOR_UNAVAILABLE;
      return a;
    case 504:
      return unknown();
    default:
      if (status >= 400 && status < 500) {  // refused: conflict, bad request, credentials
        a.error_code = types::ERROR_CODE_UNKNOWN;
        return a;
      }
      return unknown();  // anything else may or may not have happened
  }
}

StatusOr<HttpGatewayOptions> ParseHttpGatewaySpec(std::string_view spec) {
  HttpGatewayOptions o;
  auto fail = [&](const std::string& what) {
    return InvalidArgumentError("http gateway spec '" +
                                std::string(spec.substr(0, spec.find('?'))) + "': " + what);
  };
  if (spec.rfind("http://", 0) != 0 && spec.rfind("https://", 0) != 0) {
    return fail("must start with http:// or https://");
  }
  const size_t q = spec.find('?');
  o.base_url = std::string(spec.substr(0, q));
  while (!o.base_url.empty() && o.base_url.back() == '/') o.base_url.pop_back();
  if (o.base_url.find("://") + 3 >= o.base_url.size()) return fail("no host");
  std::string_view rest = q == std::string_view::npos ? "" : spec.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return fail("'" + std::string(item) + "' is not key=value");
    const std::string key(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    if (key == "timeout_ms") {
      if (!ParseU32(value, 600'000, &o.timeout_ms) || o.timeout_ms == 0) {
        return fail("timeout_ms must be an integer in [1, 600000]");
      }
    } else if (key == "connect_timeout_ms") {
      if (!ParseU32(value, 600'000, &o.connect_timeout_ms) || o.connect_timeout_ms == 0) {
        return fail("connect_timeout_ms must be an integer in [1, 600000]");
      }
    } else if (key == "token_env") {
      const char* token = std::getenv(value.c_str());
      if (token == nullptr || *token == '\0') {
        return fail("environment variable " + value + " (token_env) is not set");
      }
      o.bearer_token = token;
    } else if (key == "cert") {
      o.client_cert_path = value;
    } else if (key == "key") {
      o.client_key_path = value;
    } else if (key == "ca") {
      o.ca_path = value;
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  if (o.client_cert_path.empty() != o.client_key_path.empty()) {
    return fail("cert and key go together");
  }
  return o;
}

HttpGateway::HttpGateway(HttpGatewayOptions options)
    : options_(std::move(options)),
      client_(HttpClientOptions{.base_url = options_.base_url,
                                .timeout_ms = options_.timeout_ms,
                                .connect_timeout_ms = options_.connect_timeout_ms,
                                .bearer_token = options_.bearer_token,
                                .client_cert_path = options_.client_cert_path,
                                .client_key_path = options_.client_key_path,
                                .ca_path = options_.ca_path,
                                .on_result = options_.on_result}) {}

HttpGateway::~HttpGateway() = default;

StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Create(HttpGatewayOptions options) {
  if (options.base_url.empty()) return InvalidArgumentError("http gateway: empty base_url");
  return std::unique_ptr<HttpGateway>(new HttpGateway(std::move(options)));
}

StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::FromSpec(const std::string& processor_id,
                                                             std::string_view spec) {
  auto parsed = ParseHttpGatewaySpec(spec);
  if (!parsed.ok()) return parsed.status();
  parsed.value().processor_id = processor_id;
  return Create(std::move(parsed.value()));
}

GatewayAnswer HttpGateway::Perform(const HttpCall& call, bool retrieve) {
  const HttpResult r = client_.Perform(call);
  GatewayAnswer a = MapHttpAnswer(r.transport, r.status, r.body, retrieve);
  a.latency_ms = r.latency_ms;
  return a;
}

namespace {

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace

GatewayAnswer HttpGateway::Execute(const GatewayRequest& request) {
  HttpCall call;
  call.post = true;
  call.headers.emplace_back("Idempotency-Key", request.idempotency_key);
  call.timeout_ms = request.timeout_ms;  // 0 = the processor's timeout_ms
  json body = {{"amount", request.amount_minor}, {"currency", request.currency}};
  switch (request.kind) {
    case ev::OPERATION_KIND_AUTHORIZE:
    case ev::OPERATION_KIND_SALE:
      call.path = "/v1/payments";
      body["method"] = MethodName(request.method);
      body["capture"] = request.kind == ev::OPERATION_KIND_SALE;
      body["metadata"] = {{"payment_id", request.payment_id},
                          {"step_index", std::to_string(request.step_index)}};
      break;
    case ev::OPERATION_KIND_CAPTURE:
      call.path = "/v1/payments/" + Escape(request.target_reference) + "/capture";
      break;
    case ev::OPERATION_KIND_VOID:
      call.path = "/v1/payments/" + Escape(request.target_reference) + "/void";
      break;
    case ev::OPERATION_KIND_REFUND:
      call.path = "/v1/refunds";
      body["payment"] = request.target_reference;
      break;
    default: {
      GatewayAnswer a;
      a.outcome = cmd::GATEWAY_OUTCOME_FAILED;
      a.error_code = types::ERROR_CODE_UNKNOWN;
      return a;
    }
  }
  call.body = body.dump();
  return Perform(call, /*retrieve=*/false);
}

GatewayAnswer HttpGateway::Retrieve(std::string_view idempotency_key) {
  HttpCall call;
  call.path = "/v1/idempotency/" + Escape(idempotency_key);
  return Perform(call, /*retrieve=*/true);
}

}  // namespace payorch::connectors
