#include "connectors/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "connectors/http_gateway.h"

namespace payorch::connectors {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;
using nlohmann::json;

namespace {

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

std::string Hmac(std::string_view secret, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return Hex(out, len);
}

// Parses "t=<digits>,v1=<hex>".
bool ParseSignature(std::string_view header, int64_t* t, std::string* v1) {
  bool have_t = false;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.rfind("t=", 0) == 0) {
      const std::string_view digits = item.substr(2);
      if (digits.empty() || digits.size() > 12) return false;
      int64_t v = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
      }
      *t = v;
      have_t = true;
    } else if (item.rfind("v1=", 0) == 0) {
      *v1 = std::string(item.substr(3));
    }
  }
  return have_t && !v1->empty();
}

}  // namespace

std::string SignWebhook(std::string_view secret, int64_t t, std::string_view body) {
  const std::string message = std::to_string(t) + "." + std::string(body);
  return "t=" + std::to_string(t) + ",v1=" + Hmac(secret, message);
}

WebhookReceiver::WebhookReceiver(WebhookOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr) options_.clock = &system_clock_;
}

std::optional<http::Response> WebhookReceiver::Prepare(
    const http::Request& request, cmd::CommandEnvelope* command,
    std::pair<std::string, std::string>* seen_id) {
  if (request.path_params.empty()) return http::Error(404, "not_found", "no processor");
  const std::string& processor = request.path_params[0];
  auto secret = options_.secrets.find(processor);
  if (secret == options_.secrets.end()) {
    return http::Error(404, "unknown_processor", "no webhook secret for this processor");
  }
  int64_t t = 0;
  std::string v1;
  const auto header = request.Header("Payorch-Signature");
  if (!header || !ParseSignature(*header, &t, &v1)) {
    ++probe_.bad_signature;
    return http::Error(401, "bad_signature", "missing or malformed Payorch-Signature");
  }
  const std::string expected = Hmac(secret->second, std::to_string(t) + "." + request.body);
  if (v1.size() != expected.size() ||
      CRYPTO_memcmp(v1.data(), expected.data(), expected.size()) != 0) {
    ++probe_.bad_signature;
    return http::Error(401, "bad_signature", "signature does not match");
  }
  if (options_.tolerance_s > 0) {
    const int64_t now_s = options_.clock->NowMs() / 1000;
    if (t < now_s - options_.tolerance_s || t > now_s + options_.tolerance_s) {
      ++probe_.bad_signature;
      return http::Error(401, "stale_signature", "signature timestamp outside tolerance");
    }
  }
  const json j = json::parse(request.body, nullptr, false);
  auto text = [](const json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!j.is_object() || !j.contains("data") || !j["data"].is_object()) {
    ++probe_.malformed;
    return http::Error(400, "malformed", "body is not a webhook event");
  }
  const std::string event_id = text(j, "id");
  const std::string type = text(j, "type");
  const json& data = j["data"];
  const std::string key = text(data, "idempotency_key");
  std::string payment_id;
  if (auto m = data.find("metadata"); m != data.end() && m->is_object()) {
    payment_id = text(*m, "payment_id");
  }
  if (event_id.empty() || key.empty() || payment_id.empty() || event_id.size() > 200 ||
      key.size() > 200 || payment_id.size() > 64 ||
      (type != "operation.succeeded" && type != "operation.failed")) {
    ++probe_.malformed;
    return http::Error(400, "malformed",
                       "need id, type operation.succeeded|operation.failed, "
                       "data.idempotency_key and data.metadata.payment_id");
  }
  const std::pair<std::string, std::string> id{processor, event_id};
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(id).second) {
      ++probe_.duplicates;
      return http::Json(200, {{"received", true}, {"duplicate", true}});
    }
  }
  cmd::CommandEnvelope& c = *command;
  c.set_schema_version(1);
  c.set_command_id("webhook/" + processor + "/" + event_id);
  c.set_payment_id(payment_id);
  c.set_correlation_id("webhook/" + event_id);
  auto* r = c.mutable_gateway_result();
  r->set_operation_key(key);
  r->set_processor_id(processor);
  r->set_source("webhook");
  if (type == "operation.succeeded") {
    r->set_outcome(cmd::GATEWAY_OUTCOME_SUCCEEDED);
    if (auto a = data.find("amount"); a != data.end() && a->is_number_integer()) {
      r->set_amount_processed_minor(std::max<int64_t>(0, a->get<int64_t>()));
    }
    r->set_processor_reference(text(data, "id"));
  } else {
    r->set_outcome(cmd::GATEWAY_OUTCOME_FAILED);
    std::string code;
    if (auto e = data.find("error"); e != data.end() && e->is_object()) code = text(*e, "code");
    r->set_error_code(MapProcessorErrorCode(code));
  }
  *seen_id = id;
  return std::nullopt;
}

void WebhookReceiver::Handle(const http::Request& request,
                             std::function<void(http::Response)> answer) {
  cmd::CommandEnvelope c;
  std::pair<std::string, std::string> id;
  if (std::optional<http::Response> refused = Prepare(request, &c, &id)) {
    answer(std::move(*refused));
    return;
  }
  if (!options_.append) {
    answer(Settle(id, "no append function"));
    return;
  }
  options_.append(c, [this, id, answer = std::move(answer)](const std::string& error) {
    answer(Settle(id, error));
  });
}

http::Response WebhookReceiver::Settle(const std::pair<std::string, std::string>& id,
                                       const std::string& error) {
  std::lock_guard lock(mu_);
  if (!error.empty()) {
    seen_.erase(id);  // not appended: the processor's retry must get through
    ++probe_.append_failed;
    return http::Error(503, "unavailable", "could not record the event; retry later");
  }
  order_.push_back(id);
  while (order_.size() > options_.remembered) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  ++probe_.accepted;
  return http::Json(200, {{"received", true}, {"duplicate", false}});
}

std::shared_ptr<WebhookReceiver> RegisterWebhookRoutes(http::Server& server,
                                                       WebhookOptions options) {
  auto receiver = std::make_shared<WebhookReceiver>(std::move(options));
  // Asynchronous: the answer waits for the log's acknowledgement, no worker does.
  server.HandleAsync(
      "POST", R"(/v1/webhooks/([A-Za-z0-9_.\-]{1,64}))",
      [receiver](const http::Request& r, const http::Reply& reply) {
        // The answer holds the receiver: it outlives its appends.
        receiver->Handle(r, [receiver, reply](http::Response res) { reply.Send(std::move(res)); });
      });
  return receiver;
}

}  // namespace payorch::connectors
