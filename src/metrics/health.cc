#include "metrics/health.h"

#include <nlohmann/json.hpp>

#include "http/server.h"

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

}  // namespace payorch::metrics
