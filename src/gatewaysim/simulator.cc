#include "gatewaysim/simulator.h"

#include <openssl/sha.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>

namespace payorch::gatewaysim {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using connectors::GatewayAnswer;
using connectors::GatewayRequest;
using nlohmann::json;

namespace {

std::string Digest(std::string_view text) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

types::PaymentMethod MethodOf(const std::string& name) {
  if (name == "card") return types::PAYMENT_METHOD_CARD;
  if (name == "apple_pay") return types::PAYMENT_METHOD_APPLE_PAY;
  if (name == "google_pay") return types::PAYMENT_METHOD_GOOGLE_PAY;
  if (name == "bank_transfer") return types::PAYMENT_METHOD_BANK_TRANSFER;
  return types::PAYMENT_METHOD_UNSPECIFIED;
}

const char* ProcessorCode(types::ErrorCode code) {
  switch (code) {
    case types::ERROR_CODE_DECLINED:
      return "card_declined";
    case types::ERROR_CODE_HARD_DECLINE:
      return "hard_decline";
    case types::ERROR_CODE_INVALID_CARD:
      return "invalid_card";
    case types::ERROR_CODE_PROCESSOR_UNAVAILABLE:
      return "processor_unavailable";
    case types::ERROR_CODE_NETWORK_FAILURE:
      return "network_failure";
    default:
      return "processing_error";
  }
}

const char* KindName(ev::OperationKind kind) {
  switch (kind) {
    case ev::OPERATION_KIND_AUTHORIZE:
      return "authorization";
    case ev::OPERATION_KIND_SALE:
      return "sale";
    case ev::OPERATION_KIND_CAPTURE:
      return "capture";
    case ev::OPERATION_KIND_VOID:
      return "void";
    case ev::OPERATION_KIND_REFUND:
      return "refund";
    default:
      return "unknown";
  }
}

http::Response ApiError(int status, const char* type, const std::string& code,
                        const std::string& message) {
  return http::Json(status, {{"error", {{"type", type}, {"code", code}, {"message", message}}}});
}

}  // namespace

GatewaySimulator::GatewaySimulator(GatewaySimulatorOptions options, bool hold_latency,
                                   std::unique_ptr<connectors::SimulatedGateway> engine)
    : options_(std::move(options)), hold_latency_(hold_latency), engine_(std::move(engine)) {}

connectors::StatusOr<std::unique_ptr<GatewaySimulator>> GatewaySimulator::Open(
    GatewaySimulatorOptions options) {
  if (options.hang_ms < 0 || options.hang_ms > 600'000) {
    return InvalidArgumentError("hang_ms must be in [0, 600000]");
  }
  // The engine's latency is held by the routes' timer (Answer::delay), not by a sleeping
  // thread, unless the caller chose how the engine sleeps.
  const bool hold_latency = !options.engine.sleep;
  if (hold_latency) options.engine.sleep = [](std::chrono::milliseconds) {};
  auto engine = connectors::SimulatedGateway::Open(options.engine);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<GatewaySimulator>(
      new GatewaySimulator(std::move(options), hold_latency, std::move(engine.value())));
}

void GatewaySimulator::RegisterRoutes(http::Server& server) {
  auto handle = [this, &server](const http::Request& r, const http::Reply& reply) {
    Answer a = Decide(r);
    if (a.delay.count() <= 0) return reply.Send(std::move(a.response));
    server.After(a.delay, [reply, response = std::move(a.response)] { reply.Send(response); });
  };
  server.HandleAsync("POST", "/v1/payments", handle);
  server.HandleAsync("POST", "/v1/payments/([^/]+)/(capture|void)", handle);
  server.HandleAsync("POST", "/v1/refunds", handle);
  server.HandleAsync("GET", "/v1/idempotency/([^/]+)", handle);
  server.HandleAsync("GET", "/v1/audit", handle);
}

GatewaySimulator::Answer GatewaySimulator::Decide(const http::Request& request) {
  if (!options_.token.empty()) {
    const auto auth = request.Header("Authorization");
    if (!auth || *auth != "Bearer " + options_.token) {
      return ApiError(401, "authentication_error", "unauthorized", "bad or missing bearer token");
    }
  }
  static const std::regex kOperation("/v1/payments/([^/]+)/(capture|void)");
  static const std::regex kRetrieve("/v1/idempotency/([^/]+)");
  std::smatch m;
  if (request.method == "GET" && request.path == "/v1/audit") return Audit();
  if (request.method == "GET" && std::regex_match(request.path, m, kRetrieve)) {
    return Retrieve(m[1].str());
  }
  if (request.method != "POST") return ApiError(405, "invalid_request_error", "method", "");
  if (request.path == "/v1/payments") {
    return Write(request, ev::OPERATION_KIND_UNSPECIFIED, "");  // kind from the body
  }
  if (request.path == "/v1/refunds") return Write(request, ev::OPERATION_KIND_REFUND, "");
  if (std::regex_match(request.path, m, kOperation)) {
    return Write(request,
                 m[2].str() == "capture" ? ev::OPERATION_KIND_CAPTURE : ev::OPERATION_KIND_VOID,
                 m[1].str());
  }
  return ApiError(404, "invalid_request_error", "not_found", "no such route");
}

GatewaySimulator::Answer GatewaySimulator::Write(const http::Request& request,
                                                 ev::OperationKind kind,
                                                 const std::string& target) {
  const auto key = request.Header("Idempotency-Key");
  if (!key || key->empty()) {
    return ApiError(400, "invalid_request_error", "idempotency_key_missing",
                    "every write needs an Idempotency-Key header");
  }
  if (key->size() > 255) {
    return ApiError(400, "invalid_request_error", "idempotency_key_too_long",
                    "an Idempotency-Key is at most 255 bytes");
  }
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("amount") || !body["amount"].is_number_integer()) {
    return ApiError(400, "invalid_request_error", "parameter_invalid", "amount is required");
  }
  if (engine_->Sealed(*key)) {
    return ApiError(409, "idempotency_error", "idempotency_key_sealed",
                    "nothing happened under this key and nothing will; use a new key");
  }
  {
    const std::string digest = Digest(request.path + "\n" + request.body);
    std::lock_guard lock(mu_);
    auto [it, fresh] = bodies_.emplace(*key, digest);
    if (!fresh && it->second != digest) {
      return ApiError(409, "idempotency_error", "idempotency_key_reused",
                      "this key was used with a different request");
    }
  }
  GatewayRequest req;
  req.kind = kind;
  req.idempotency_key = *key;
  req.processor_id = options_.engine.processor_id;
  req.amount_minor = body["amount"].get<int64_t>();
  req.currency = body.value("currency", "");
  req.target_reference = target;
  if (kind == ev::OPERATION_KIND_UNSPECIFIED) {
    req.kind = body.value("capture", true) ? ev::OPERATION_KIND_SALE : ev::OPERATION_KIND_AUTHORIZE;
    req.method = MethodOf(body.value("method", ""));
    if (auto md = body.find("metadata"); md != body.end() && md->is_object()) {
      req.payment_id = md->value("payment_id", "");
      const std::string step = md->value("step_index", "0");
      req.step_index = static_cast<uint32_t>(std::strtoul(step.c_str(), nullptr, 10));
    }
  } else if (kind == ev::OPERATION_KIND_REFUND) {
    req.target_reference = body.value("payment", "");
  }
  const GatewayAnswer a = engine_->Execute(req);
  const std::chrono::milliseconds held{hold_latency_ ? a.latency_ms : 0};
  switch (a.outcome) {
    case cmd::GATEWAY_OUTCOME_SUCCEEDED:
      return {http::Json(200, {{"id", a.processor_reference},
                               {"object", KindName(req.kind)},
                               {"status", "succeeded"},
                               {"amount", a.amount_processed_minor},
                               {"currency", req.currency}}),
              held};
    case cmd::GATEWAY_OUTCOME_UNKNOWN:
      return {ApiError(504, "api_error", "timeout", "the processor did not answer in time"),
              held + std::chrono::milliseconds(options_.hang_ms)};
    default:
      break;
  }
  switch (a.error_code) {
    case types::ERROR_CODE_DECLINED:
    case types::ERROR_CODE_HARD_DECLINE:
    case types::ERROR_CODE_INVALID_CARD:
      return {ApiError(402, "card_error", ProcessorCode(a.error_code), "the card was declined"),
              held};
    case types::ERROR_CODE_NETWORK_FAILURE:
      return {ApiError(502, "api_error", "network_failure", "upstream network failure"), held};
    case types::ERROR_CODE_PROCESSOR_UNAVAILABLE:
      return {ApiError(503, "api_error", "processor_unavailable", "try again later"), held};
    default:
      return {ApiError(400, "invalid_request_error", "operation_refused",
                       "the operation conflicts with what this key or target recorded"),
              held};
  }
}

GatewaySimulator::Answer GatewaySimulator::Retrieve(const std::string& key) {
  const GatewayAnswer a = engine_->Retrieve(key);
  const std::chrono::milliseconds held{hold_latency_ ? a.latency_ms : 0};
  switch (a.outcome) {
    case cmd::GATEWAY_OUTCOME_SUCCEEDED:
      return {http::Json(200, {{"idempotency_key", key},
                               {"status", "succeeded"},
                               {"id", a.processor_reference},
                               {"amount", a.amount_processed_minor}}),
              held};
    case cmd::GATEWAY_OUTCOME_FAILED:
      return {http::Json(200, {{"idempotency_key", key},
                               {"status", "failed"},
                               {"error", {{"code", ProcessorCode(a.error_code)}}}}),
              held};
    case cmd::GATEWAY_OUTCOME_NOT_FOUND:
      return {ApiError(404, "invalid_request_error", "not_found", "nothing under this key"), held};
    default:
      return {ApiError(503, "api_error", "processor_unavailable", "cannot tell right now"), held};
  }
}

std::vector<Charge> GatewaySimulator::Charges() const {
  std::vector<Charge> charges;
  std::map<std::string, size_t> by_reference;
  for (const auto& e : engine_->Ledger()) {
    if (e.kind == ev::OPERATION_KIND_AUTHORIZE || e.kind == ev::OPERATION_KIND_SALE) {
      Charge c;
      c.idempotency_key = e.idempotency_key;
      c.reference = e.processor_reference;
      c.payment_id = e.payment_id;
      c.step_index = e.step_index;
      c.currency = e.currency;
      c.authorized = e.amount_minor;
      if (e.kind == ev::OPERATION_KIND_SALE) c.captured = e.amount_minor;
      by_reference[c.reference] = charges.size();
      charges.push_back(std::move(c));
      continue;
    }
    auto it = by_reference.find(e.target_reference);
    if (it == by_reference.end()) continue;
    Charge& c = charges[it->second];
    if (e.kind == ev::OPERATION_KIND_CAPTURE) c.captured += e.amount_minor;
    if (e.kind == ev::OPERATION_KIND_VOID) c.voided += e.amount_minor;
    if (e.kind == ev::OPERATION_KIND_REFUND) c.refunded += e.amount_minor;
  }
  return charges;
}

http::Response GatewaySimulator::Audit() const {
  json charges = json::array();
  std::map<std::string, int> per_key;
  for (const Charge& c : Charges()) {
    ++per_key[c.idempotency_key];
    charges.push_back({{"idempotency_key", c.idempotency_key},
                       {"id", c.reference},
                       {"payment_id", c.payment_id},
                       {"step_index", c.step_index},
                       {"currency", c.currency},
                       {"authorized", c.authorized},
                       {"captured", c.captured},
                       {"voided", c.voided},
                       {"refunded", c.refunded}});
  }
  int max_per_key = 0;
  for (const auto& [key, n] : per_key) max_per_key = std::max(max_per_key, n);
  return http::Json(200, {{"processor", options_.engine.processor_id},
                          {"charges", charges},
                          {"max_charges_per_key", max_per_key}});
}

}  // namespace payorch::gatewaysim
