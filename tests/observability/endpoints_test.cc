// /metrics and /health through http::Server::Dispatch (no socket).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "metrics/health.h"
#include "metrics/prometheus.h"

namespace payorch::metrics {
namespace {

http::Request Get(const std::string& path) {
  http::Request r;
  r.method = "GET";
  r.path = path;
  return r;
}

TEST(MetricsEndpoint, ServesEveryFamilyInTheTextFormat) {
  RuntimeMetrics m;
  m.dead_letters.Add(3);
  m.violations.Add({"writer/fenced"});
  m.consumer_lag.Set({"payorch.writers", "2"}, 17);
  m.create_to_final.ObserveMillis(12);
  m.projection_events.Set({"illegal_transition"}, 2);
  int scrapes = 0;
  http::Server server;
  RegisterMetricsRoutes(server, m, [&] { ++scrapes; });
  const http::Response r = server.Dispatch(Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_EQ(scrapes, 1);
  for (const char* line :
       {"# TYPE payorch_dead_letters_total counter\npayorch_dead_letters_total 3\n",
        "payorch_contract_violations_total{contract=\"writer/fenced\"} 1\n",
        "payorch_consumer_lag_records{group=\"payorch.writers\",partition=\"2\"} 17\n",
        "payorch_create_to_final_event_seconds_bucket{le=\"0.025\"} 1\n",
        "payorch_create_to_final_event_seconds_bucket{le=\"+Inf\"} 1\n",
        "# TYPE payorch_projection_events_total counter\n",
        "payorch_projection_events_total{verdict=\"illegal_transition\"} 2\n",
        "# TYPE payorch_outbox_depth gauge\n"}) {
    EXPECT_NE(r.body.find(line), std::string::npos) << line << "\n" << r.body;
  }
}

TEST(HealthEndpoints, LiveAlwaysReadyOnlyWhenEveryCheckPasses) {
  Readiness readiness;
  http::Server server;
  RegisterHealthRoutes(server, readiness);
  EXPECT_EQ(server.Dispatch(Get("/health/live")).status, 200);
  EXPECT_EQ(server.Dispatch(Get("/health/ready")).status, 503);  // nothing reported yet

  bool broker_up = true;
  readiness.Set("writers", false, "restoring");
  readiness.AddCheck("broker", [&] { return Check{broker_up, "127.0.0.1:9092"}; });
  http::Response r = server.Dispatch(Get("/health/ready"));
  EXPECT_EQ(r.status, 503);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["status"], "not_ready");
  EXPECT_EQ(j["checks"]["writers"]["detail"], "restoring");

  readiness.Set("writers", true);
  EXPECT_EQ(server.Dispatch(Get("/health/ready")).status, 200);
  broker_up = false;
  r = server.Dispatch(Get("/health/ready"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["checks"]["broker"]["ok"], false);
}

// A projection is ready while it runs within max_lag; one that stopped on an error is not,
// whatever its (frozen) lag says.
TEST(HealthEndpoints, AProjectionIsReadyOnlyRunningAndWithinItsLag) {
  EXPECT_TRUE(ProjectionCheck(0, 10, "").ok);
  EXPECT_TRUE(ProjectionCheck(10, 10, "").ok);
  EXPECT_FALSE(ProjectionCheck(11, 10, "").ok);
  EXPECT_FALSE(ProjectionCheck(-1, 10, "").ok);  // lag not known yet
  EXPECT_TRUE(ProjectionCheck(1'000'000, -1, "").ok);
  const Check stopped = ProjectionCheck(0, 10, "store: IO error");
  EXPECT_FALSE(stopped.ok);
  EXPECT_EQ(stopped.detail, "stopped: store: IO error");
  EXPECT_FALSE(ProjectionCheck(0, -1, "store: IO error").ok);
}

}  // namespace
}  // namespace payorch::metrics
