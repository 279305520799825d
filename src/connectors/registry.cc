#include "connectors/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "connectors/bank_gateway.h"
#include "connectors/http_gateway.h"
#include "connectors/stripe_gateway.h"

namespace payorch::connectors {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

std::string FileSafe(std::string_view id) {
  std::string out;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  return out;
}

}  // namespace

StatusOr<SimulatedGatewayOptions> ParseGatewaySpec(std::string_view spec_in) {
  const std::string_view spec = Trim(spec_in);
  auto fail = [&spec](const std::string& why) {
    return InvalidArgumentError("gateway spec \"" + std::string(spec) + "\": " + why);
  };
  const size_t colon = spec.find(':');
  const std::string_view kind = Trim(spec.substr(0, colon));
  const bool flaky = kind == "flaky";
  if (kind != "mock" && !flaky) {
    return fail("unknown gateway kind '" + std::string(kind) + "' (want mock or flaky)");
  }
  SimulatedGatewayOptions o;
  std::string_view rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  while (!Trim(rest).empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return fail("'" + std::string(item) + "' is not key=value");
    const std::string key(Trim(item.substr(0, eq)));
    const std::string_view value = Trim(item.substr(eq + 1));

    auto probability = [&](double& out) -> Status {
      if (!flaky) return fail("key '" + key + "' is only for flaky gateways");
      double p = 0;
      if (!ParseNumber(value, p) || !std::isfinite(p) || p < 0 || p > 1) {
        return fail(key + " must be a number in [0, 1], got '" + std::string(value) + "'");
      }
      out = p;
      return Status::Ok();
    };
    Status s;
    if (key == "decline") {
      s = probability(o.rates.decline);
    } else if (key == "hard_decline") {
      s = probability(o.rates.hard_decline);
    } else if (key == "invalid") {
      s = probability(o.rates.invalid_card);
    } else if (key == "timeout") {
      s = probability(o.rates.timeout);
    } else if (key == "lost") {
      s = probability(o.rates.lost);
    } else if (key == "network") {
      s = probability(o.rates.network);
    } else if (key == "unavailable") {
      s = probability(o.rates.unavailable);
    } else if (key == "retrieve_unknown") {
      s = probability(o.retrieve_unknown);
    } else if (key == "seed") {
      if (!flaky) return fail("key 'seed' is only for flaky gateways");
      if (!ParseNumber(value, o.seed)) return fail("seed must be an unsigned integer");
    } else if (key == "ops") {
      if (!flaky) return fail("key 'ops' is only for flaky gateways");
      if (value != "all" && value != "charges") return fail("ops must be all or charges");
      o.faults_on_all_kinds = value == "all";
    } else if (key == "max") {
      if (!ParseNumber(value, o.max_per_operation) || o.max_per_operation <= 0) {
        return fail("max must be a positive integer (minor units)");
      }
    } else if (key == "latency_ms") {
      if (!ParseNumber(value, o.latency_ms) || o.latency_ms > 600000) {
        return fail("latency_ms must be an integer in [0, 600000]");
      }
    } else if (key == "strict") {
      if (value != "0" && value != "1") return fail("strict must be 0 or 1");
      o.strict_targets = value == "1";
    } else {
      return fail("unknown key '" + key + "'");
    }
    if (!s.ok()) return s;
  }
  const FlakyRates& r = o.rates;
  if (r.decline + r.hard_decline + r.invalid_card + r.timeout + r.lost + r.network + r.unavailable >
      1 + 1e-9) {
    return fail("probabilities sum to more than 1");
  }
  return o;
}

GatewayRegistry::GatewayRegistry(GatewayRegistryOptions options) : options_(std::move(options)) {}

Status GatewayRegistry::Build(const std::string& processor_id, std::string_view spec) {
  if (processor_id.empty()) return InvalidArgumentError("gateway registry: empty processor id");
  if (gateways_.count(processor_id) != 0) {
    return InvalidArgumentError("gateway registry: processor '" + processor_id +
                                "' configured twice");
  }
  if (const std::string_view t = Trim(spec);
      t.rfind("http://", 0) == 0 || t.rfind("https://", 0) == 0) {
    auto http = HttpGateway::FromSpec(processor_id, t);
    if (!http.ok()) return http.status();
    gateways_[processor_id] = std::shared_ptr<Gateway>(std::move(http.value()));
    return Status::Ok();
  }
  if (const std::string_view t = Trim(spec); t == "stripe" || t.rfind("stripe:", 0) == 0) {
    auto stripe = StripeGateway::FromSpec(processor_id, t.substr(std::min(t.size(), size_t{7})));
    if (!stripe.ok()) return stripe.status();
    gateways_[processor_id] = std::shared_ptr<Gateway>(std::move(stripe.value()));
    return Status::Ok();
  }
  if (Trim(spec) == "bank") {
    gateways_[processor_id] = std::make_shared<BankTransferGateway>();
    return Status::Ok();
  }
  auto parsed = ParseGatewaySpec(spec);
  if (!parsed.ok()) return parsed.status();
  SimulatedGatewayOptions o = std::move(parsed.value());
  o.processor_id = processor_id;
  o.sleep = options_.sleep;
  if (!options_.ledger_dir.empty()) {
    o.ledger_path = options_.ledger_dir + "/" + FileSafe(processor_id) + ".ledger";
  }
  auto gateway = SimulatedGateway::Open(std::move(o));
  if (!gateway.ok()) return gateway.status();
  simulated_[processor_id] = gateway.value().get();
  gateways_[processor_id] = std::shared_ptr<Gateway>(std::move(gateway.value()));
  return Status::Ok();
}

Status GatewayRegistry::Configure(const std::string& processor_id, std::string_view spec) {
  std::lock_guard<std::mutex> lock(mu_);
  return Build(processor_id, spec);
}

Status GatewayRegistry::ConfigureAll(std::string_view specs) {
  while (!Trim(specs).empty()) {
    const size_t semi = specs.find(';');
    const std::string_view item = Trim(specs.substr(0, semi));
    specs = semi == std::string_view::npos ? "" : specs.substr(semi + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgumentError("gateway registry: '" + std::string(item) +
                                  "' is not processor_id=spec");
    }
    const std::string id(Trim(item.substr(0, eq)));
    const std::string_view spec = item.substr(eq + 1);
    Status s = id == "*" ? SetDefault(spec) : Configure(id, spec);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status GatewayRegistry::SetDefault(std::string_view spec) {
  if (!Trim(spec).empty()) {
    auto parsed = ParseGatewaySpec(spec);
    if (!parsed.ok()) return parsed.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  options_.default_spec = std::string(Trim(spec));
  return Status::Ok();
}

Status GatewayRegistry::Register(const std::string& processor_id,
                                 std::shared_ptr<Gateway> gateway) {
  std::lock_guard<std::mutex> lock(mu_);
  if (processor_id.empty() || gateway == nullptr) {
    return InvalidArgumentError("gateway registry: empty processor id or gateway");
  }
  if (!gateways_.emplace(processor_id, std::move(gateway)).second) {
    return InvalidArgumentError("gateway registry: processor '" + processor_id +
                                "' configured twice");
  }
  return Status::Ok();
}

Gateway* GatewayRegistry::Find(const std::string& processor_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = gateways_.find(processor_id); it != gateways_.end()) return it->second.get();
  if (options_.default_spec.empty() || !Build(processor_id, options_.default_spec).ok()) {
    return nullptr;
  }
  return gateways_[processor_id].get();
}

std::vector<LedgerEntry> GatewayRegistry::LedgerEntries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LedgerEntry> all;
  for (const auto& [id, gateway] : simulated_) {
    std::vector<LedgerEntry> ledger = gateway->Ledger();
    all.insert(all.end(), ledger.begin(), ledger.end());
  }
  return all;
}

std::vector<std::string> GatewayRegistry::ProcessorIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, gateway] : gateways_) ids.push_back(id);
  return ids;
}

}  // namespace payorch::connectors
