// GatewayRegistry: processor_id -> Gateway, built from one spec string per processor.
//
// Spec grammar: <kind>[:<key>=<value>[,<key>=<value>...]]
//   mock   always succeeds. Keys: max, latency_ms, strict
//   flaky  seeded faults (see simulated_gateway.h). Keys: seed, decline, hard_decline,
//          invalid, timeout, lost, network, unavailable (probabilities per try), latency_ms,
//          max, retrieve_unknown, ops (all | charges), strict (0 | 1)
// e.g. "mock", "mock:max=5000", "flaky:seed=7,decline=0.1,timeout=0.05,lost=0.02,
// network=0.05,unavailable=0.05,latency_ms=2". A bad spec gives a one-line error.
//
//   http[s]://host:port?timeout_ms=800&token_env=STRIPE_TOKEN
//          a remote processor speaking docs/gateway-api.md (see http_gateway.h)
//   stripe:secret_env=STRIPE_SECRET_KEY,payment_method=pm_card_visa[,base_url=...,
//          stripe_version=...,timeout_ms=...,connect_timeout_ms=...]
//          Stripe's PaymentIntents API (see stripe_gateway.h)
//   bank   a bank credit transfer: a sale stays processing until a pain.002 status report
//          resolves it (see bank_gateway.h, docs/iso20022.md)
// A registry spec lists processors: "psp_a=mock;psp_b=flaky:seed=7,decline=0.1;*=mock",
// where '*' sets the default: a processor id nobody configured gets its own gateway built
// from the default spec on first use (default "mock"; "" = unknown ids are unroutable).
//
//   GatewayRegistry registry({.ledger_dir = "/tmp/ledgers"});
//   if (Status s = registry.ConfigureAll(flag); !s.ok()) return Fail(s.message());
//   Gateway* gateway = registry.Find("psp_a");
//
// With ledger_dir set, each simulated processor persists to <ledger_dir>/<processor_id>.ledger.
// Thread-safe. Gateways live as long as the registry; a processor id cannot be
// configured twice.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/breaker.h"
#include "connectors/gateway.h"
#include "connectors/ledger.h"
#include "connectors/simulated_gateway.h"
#include "connectors/status.h"

namespace payorch::connectors {

// Options of a simulated gateway from a spec; processor_id and ledger_path are left empty.
[[nodiscard]] StatusOr<SimulatedGatewayOptions> ParseGatewaySpec(std::string_view spec);

struct GatewayRegistryOptions {
  std::string ledger_dir;  // "" = ledgers in memory only
  std::string default_spec = "mock";
  // Passed to every simulated gateway (see SimulatedGatewayOptions::sleep).
  std::function<void(std::chrono::milliseconds)> sleep;
};

class GatewayRegistry {
 public:
  GatewayRegistry() : GatewayRegistry(GatewayRegistryOptions{}) {}
  explicit GatewayRegistry(GatewayRegistryOptions options);

  // Builds a simulated gateway for processor_id (opening its ledger file, if any).
  [[nodiscard]] Status Configure(const std::string& processor_id, std::string_view spec);
  // "id=spec;id=spec;*=spec". Stops at the first error.
  [[nodiscard]] Status ConfigureAll(std::string_view specs);
  // The spec for unknown processor ids; "" = none.
  [[nodiscard]] Status SetDefault(std::string_view spec);
  // Any other Gateway (an HTTP adapter, a scripted fake in tests).
  [[nodiscard]] Status Register(const std::string& processor_id, std::shared_ptr<Gateway> gateway);

  // The gateway for processor_id, or one built from the default spec. nullptr if there is
  // no default or its ledger could not be opened.
  Gateway* Find(const std::string& processor_id);

  // Money movements of every simulated gateway, processor by processor.
  std::vector<LedgerEntry> LedgerEntries() const;
  std::vector<std::string> ProcessorIds() const;

  // Circuit breakers of every processor (configure with breakers().Configure(config)).
  BreakerBook& breakers() { return breakers_; }

 private:
  Status Build(const std::string& processor_id, std::string_view spec);  // requires mu_

  GatewayRegistryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Gateway>> gateways_;
  std::map<std::string, SimulatedGateway*> simulated_;
  BreakerBook breakers_;
};

}  // namespace payorch::connectors
