// HttpGateway: a Gateway that speaks the Stripe-like JSON API of docs/gateway-api.md over
// HTTP(S) with libcurl (through the shared HttpClient, http_client.h). It is the anti-corruption
// layer for remote processors: HTTP statuses, transport errors and the processor's error codes are
// mapped to payorch's GatewayOutcome / ErrorCode here (MapHttpAnswer) and nowhere else.
//
// Contract:
//  - Every write (authorize/sale, capture, void, refund) is a POST carrying the op's
//    idempotency key in the Idempotency-Key header; Retrieve is GET /v1/idempotency/{key}.
//  - The timeout of a call is the smaller of the processor's timeout_ms and the request's
//    timeout_ms. A call that times out after the request may have been sent is UNKNOWN
//    (TIMEOUT); one that could not connect is FAILED (NETWORK_FAILURE), since nothing
//    reached the processor.
//  - Credentials: a bearer token (read from an environment variable named in the spec,
//    once, at construction) and/or a client certificate (mTLS). They are never logged, and
//    error messages never contain them.
//
// Registry spec (registry.h): http[s]://host:port[/base]?timeout_ms=800&token_env=STRIPE_TOKEN
//   keys: timeout_ms (default 2000), connect_timeout_ms (default 500), token_env,
//         cert, key, ca (PEM file paths for mTLS / a private CA)
//
//   auto g = HttpGateway::FromSpec("stripe", "http://127.0.0.1:8099?timeout_ms=800");
//   if (!g.ok()) return Fail(g.status().message());
//   GatewayAnswer a = g.value()->Execute(request);
//
// Thread-safe (HttpClient keeps a pool of curl handles; connections are reused).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/gateway.h"
#include "connectors/http_client.h"
#include "connectors/status.h"

namespace payorch::connectors {

struct HttpGatewayOptions {
  std::string processor_id;
  std::string base_url;  // "http://127.0.0.1:8099"
  uint32_t timeout_ms = 2000;
  uint32_t connect_timeout_ms = 500;
  std::string bearer_token;  // secret; "" = none
  std::string client_cert_path;
  std::string client_key_path;
  std::string ca_path;
  std::function<void(const HttpCall&, const HttpResult&)> on_result;  // see HttpClientOptions
};

// Parses a registry spec (see above); reads token_env from the environment.
[[nodiscard]] StatusOr<HttpGatewayOptions> ParseHttpGatewaySpec(std::string_view spec);

// The anti-corruption mapping (pure). `retrieve` selects the retrieve-by-key reading
// (404 = NOT_FOUND). See docs/gateway-api.md for the table.
[[nodiscard]] GatewayAnswer MapHttpAnswer(Transport transport, int status, std::string_view body,
                                          bool retrieve);
// A processor error code ("card_declined", ...) as payorch's ErrorCode.
[[nodiscard]] ErrorCode MapProcessorErrorCode(std::string_view code);

class HttpGateway final : public Gateway {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpGateway>> Create(HttpGatewayOptions options);
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpGateway>> FromSpec(
      const std::string& processor_id, std::string_view spec);
  ~HttpGateway() override;

  GatewayAnswer Execute(const GatewayRequest& request) override;
  GatewayAnswer Retrieve(std::string_view idempotency_key) override;

  const HttpGatewayOptions& options() const { return options_; }

 private:
  explicit HttpGateway(HttpGatewayOptions options);
  GatewayAnswer Perform(const HttpCall& call, bool retrieve);

  HttpGatewayOptions options_;
  HttpClient client_;
};

}  // namespace payorch::connectors
