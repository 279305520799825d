#include "metrics/health.h"

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "log/admin.h"
#include "log/options.h"
#include "projection/lag.h"

namespace payorch::metrics {

void Readiness::Set(const std::string& name, bool ok, std::string detail) {
  std::lock_guard<std::mutex> lock(mu_);
  states_[name] = Check{ok, std::move(detail)};
}

void Readiness::AddCheck(const std::string& name, std::function<Check()> check) {
  std::lock_guard<std::mutex> lock(mu_);
  checks_[name] = std::move(check);
}

Readiness::Result Readiness::Evaluate() const {
  std::map<std::string, std::function<Check()>> checks;
  Result r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.checks = states_;
    checks = checks_;
  }
  for (auto& [name, check] : checks) r.checks[name] = check();  // outside the lock
  r.ready = !r.checks.empty();
  for (const auto& [name, c] : r.checks) r.ready = r.ready && c.ok;
  return r;
}

void RegisterHealthRoutes(http::Server& server, const Readiness& readiness) {
  server.Handle("GET", "/health/live", [](const http::Request&) {
    return http::Json(200, {{"status", "live"}});
  });
  server.Handle("GET", "/health/ready", [&readiness](const http::Request&) {
    const Readiness::Result r = readiness.Evaluate();
    nlohmann::json checks = nlohmann::json::object();
    for (const auto& [name, c] : r.checks) checks[name] = {{"ok", c.ok}, {"detail", c.detail}};
    return http::Json(r.ready ? 200 : 503,
                      {{"status", r.ready ? "ready" : "not_ready"}, {"checks", checks}});
  });
}

std::function<Check()> BrokerCheck(const log::KafkaOptions& kafka) {
  struct State {
    log::KafkaOptions kafka;
    std::mutex mu;
    std::unique_ptr<log::Admin> admin;  // under mu
  };
  auto state = std::make_shared<State>();
  state->kafka = kafka;
  return [state] {
    std::lock_guard<std::mutex> lock(state->mu);
    if (!state->admin) {
      auto admin = log::Admin::Create(state->kafka);
      if (!admin.ok()) return Check{false, admin.status().ToString()};
      state->admin = std::move(admin.value());
    }
    auto topics = state->admin->ListTopics(1'000);
    if (!topics.ok()) return Check{false, topics.status().ToString()};
    return Check{true, state->kafka.bootstrap_servers};
  };
}

Check ProjectionCheck(int64_t lag, int64_t max_lag, const std::string& stopped) {
  if (!stopped.empty()) return Check{false, "stopped: " + stopped};
  return Check{!projection::TooFarBehind(lag, max_lag),
               std::to_string(lag) + " records behind (max " + std::to_string(max_lag) + ")"};
}

}  // namespace payorch::metrics
