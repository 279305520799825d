// StripeGateway: a Gateway that speaks Stripe's PaymentIntents API (form-encoded bodies,
// Idempotency-Key, Stripe-Version, Bearer secret key) over the shared HttpClient. Stripe's
// statuses and errors are mapped to payorch's GatewayOutcome / ErrorCode here
// (MapStripeAnswer) and nowhere else; docs/gateway-api.md ("Stripe connector") has the table.
//
// Operations (every POST carries `Idempotency-Key: <payorch operation key>`):
//   authorize / sale  POST /v1/payment_intents  amount, currency, confirm=true,
//                     capture_method=manual|automatic, payment_method (configured),
//                     payment_method_types[0]=card, metadata[payorch_key|payment_id|step_index]
//   capture           POST /v1/payment_intents/{pi}/capture  amount_to_capture
//   void              POST /v1/payment_intents/{pi}/cancel
//   refund            POST /v1/refunds  payment_intent, amount, metadata[payorch_key|payment_id]
//
// Retrieve(key): Stripe has no lookup by idempotency key, so the gateway remembers, per key
// it executed (bounded, in memory), the request and the Stripe object id it learned:
//  - a charge with a known PaymentIntent id: GET /v1/payment_intents/{id};
//  - a charge without one (timeout, 429/5xx, no connection): the key is *sealed* by sending
//    under it a PaymentIntent create with confirm=false and metadata[payorch_seal]=1 (moves
//    no money). Stripe keeps the first executed request per key, so either the seal is that
//    request (nothing happened under the key, and a late original is refused with an
//    idempotency_error: NOT_FOUND, and the seal's PaymentIntent is canceled), or Stripe
//    replays the original's answer or refuses the seal (then the answer is read from it or
//    from the search below);
//  - capture / void / refund: the same request is sent again under the same key (Stripe
//    answers with what happened, or does it now: the operation payorch started);
//  - a key it does not remember (another process executed it): GET
//    /v1/payment_intents/search by metadata['payorch_key']; found = its status, else UNKNOWN
//    (search is eventually consistent: absence proves nothing).
//
// Credentials: the secret key is read once from the environment variable named by
// `secret_env`; it is never in a config file, a log line or an error message.
//
// Registry spec (registry.h):
//   stripe:secret_env=STRIPE_SECRET_KEY,payment_method=pm_card_visa
//          [,base_url=https://api.stripe.com][,stripe_version=2026-08-26.dahlia]
//          [,timeout_ms=2000][,connect_timeout_ms=500]
//
//   auto g = StripeGateway::FromSpec("stripe", "secret_env=STRIPE_SECRET_KEY,payment_method=pm_x");
//   GatewayAnswer a = g.value()->Execute(request);
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "connectors/gateway.h"
#include "connectors/http_client.h"
#include "connectors/status.h"

namespace payorch::connectors {

// The API version the mapping is written and tested against (stripe-mock v0.203.0's spec).
inline constexpr std::string_view kStripeApiVersion = "2026-08-26.dahlia";

struct StripeGatewayOptions {
  std::string processor_id;
  std::string base_url = "https://api.stripe.com";
  std::string secret_key;  // secret, from the environment; required
  std::string stripe_version = std::string(kStripeApiVersion);
  // The PaymentMethod every charge is confirmed with: payorch carries no per-payment card
  // token yet (docs/gateway-api.md, what is not supported).
  std::string payment_method;
  uint32_t timeout_ms = 2000;
  uint32_t connect_timeout_ms = 500;
  size_t remembered_keys = 100000;  // bound of the key -> request/object book
  std::function<void(const HttpCall&, const HttpResult&)> on_result;  // see HttpClientOptions
};

// Parses the part after "stripe:" (see above); reads secret_env from the environment.
[[nodiscard]] StatusOr<StripeGatewayOptions> ParseStripeGatewaySpec(std::string_view spec);

// What a Stripe answer is about, for MapStripeAnswer.
enum class StripeObject {
  kCharge,   // a PaymentIntent answering an authorize / sale (or its retrieve)
  kCapture,  // a PaymentIntent answering a capture
  kCancel,   // a PaymentIntent answering a cancel (payorch's void)
  kRefund,   // a Refund
};

// The anti-corruption mapping (pure). `retrieve` reads the answer as a retrieve does: the
// failures that leave a key open (429, 5xx, no connection) are UNKNOWN there, not FAILED.
[[nodiscard]] GatewayAnswer MapStripeAnswer(StripeObject object, Transport transport, int status,
                                            std::string_view body, bool retrieve);
// A Stripe decline_code or error code as payorch's ErrorCode (DECLINED when unknown).
[[nodiscard]] ErrorCode MapStripeDeclineCode(std::string_view code);

class StripeGateway final : public Gateway {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<StripeGateway>> Create(
      StripeGatewayOptions options);
  [[nodiscard]] static StatusOr<std::unique_ptr<StripeGateway>> FromSpec(
      const std::string& processor_id, std::string_view spec);

  GatewayAnswer Execute(const GatewayRequest& request) override;
  GatewayAnswer Retrieve(std::string_view idempotency_key) override;

  const StripeGatewayOptions& options() const { return options_; }

 private:
  struct Known {  // what this gateway sent under a key, and the object id it learned
    GatewayRequest request;
    std::string object_id;  // pi_... or re_...; "" = not learned
  };

  explicit StripeGateway(StripeGatewayOptions options);
  HttpResult Post(const std::string& path, const std::string& body, const std::string& key,
                  uint32_t timeout_ms);
  HttpResult Get(const std::string& path);
  // The request of an operation (path and form body); nullopt if Stripe cannot do it.
  std::optional<HttpCall> CallFor(const GatewayRequest& request) const;
  GatewayAnswer RetrieveCharge(const Known& known);
  GatewayAnswer Search(std::string_view key);
  void Remember(const GatewayRequest& request);
  void Learn(const std::string& key, const std::string& object_id);
  std::optional<Known> Recall(std::string_view key);

  StripeGatewayOptions options_;
  HttpClient client_;
  std::mutex mu_;
  std::unordered_map<std::string, Known> known_;  // guarded by mu_
  std::deque<std::string> order_;                 // insertion order, for the bound
};

}  // namespace payorch::connectors
