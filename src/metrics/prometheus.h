// The Prometheus exposition of RuntimeMetrics: GET /metrics on a payorch http::Server.
// This header names no Prometheus type; prometheus.cc is the only file that includes
// prometheus-cpp (core: MetricFamily + TextSerializer).
//
//   metrics::RuntimeMetrics m;
//   http::Server server;
//   metrics::RegisterMetricsRoutes(server, m, [&] { m.outbox_depth.Set(Depth()); });
//   auto port = server.Start("127.0.0.1:9464");
#pragma once

#include <functional>
#include <string>

#include "metrics/runtime_metrics.h"

namespace payorch::http {
class Server;
}

namespace payorch::metrics {

// The text exposition format (version 0.0.4) of every figure in `m`, names prefixed
// "payorch_".
[[nodiscard]] std::string RenderPrometheusText(const RuntimeMetrics& m);

// Mounts GET /metrics. `before_scrape`, if set, runs first on each scrape (to sample
// values that live elsewhere, e.g. a component's own atomics).
void RegisterMetricsRoutes(http::Server& server, const RuntimeMetrics& m,
                           std::function<void()> before_scrape = {});

}  // namespace payorch::metrics
