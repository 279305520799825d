// payorch api: the merchant API (docs/merchant-api.md) on its own, next to an orchestrator
// (`payorch run`) on the same log. It keeps its own projection in DATA_DIR/projection.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "api/config.h"
#include "api/merchant_api.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "common/thread_name.h"
#include "http/server.h"
#include "metrics/health.h"
#include "metrics/prometheus.h"
#include "metrics/runtime_metrics.h"
#include "projection/service.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }
}  // namespace

int RunApi(int argc, char** argv) {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  log::KafkaOptions kafka;
  std::string data_dir;
  std::string http_addr = "127.0.0.1:8080";
  std::string http_file;
  std::string metrics_addr;
  std::string api_config;
  std::string merchant_config;
  std::string log_level = "info";
  int64_t max_lag = 10'000;
  int threads = api::kApiWorkerThreads;
  TlsFlags tls;
  FlagSet flags("api",
                "Serves the merchant API (docs/merchant-api.md): payments over the log with API\n"
                "keys (`payorch keys`), idempotency, rate limits and signed webhooks. Needs a\n"
                "broker (--brokers or --bootstrap-file) that `payorch run` works on.");
  AddKafkaFlags(flags, &kafka);
  flags.String("data", &data_dir, "data directory: api/ (keys, responses, webhooks), projection/");
  flags.String("http", &http_addr, "listen address host:port (port 0 = any free port)");
  flags.String("http-file", &http_file, "write the bound address host:port to this file");
  flags.String("metrics", &metrics_addr,
               "serve GET /metrics (the API's HTTP metrics) and /health/live, /health/ready "
               "(broker reachable, projection within --max-lag) on host:port, plain HTTP "
               "(port 0: a free port, printed as \"metrics at http://host:port/metrics\")");
  flags.String("api-config", &api_config,
               "YAML: wait_ms, rate_limit, webhooks (docs/merchant-api.md)");
  flags.String("config", &merchant_config,
               "merchant configuration (YAML/JSON; default: the built-in merchants): the "
               "operator's admin API creates keys only for its merchants");
  flags.Int("max-lag", &max_lag,
            "answer 503 to reads while the projection is more than this many "
            "records behind (-1: never)");
  flags.Int("threads", &threads,
            "HTTP worker threads (no route waits on them: payment POSTs hold none while the "
            "log decides, nor a key's verification; invoice, order, checkout and ISO 20022 "
            "routes have 16 of their own)",
            Bounds::AtLeast(1));
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  AddTlsFlags(flags, &tls, "the API");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  api::ApiConfig config;
  ::payments::config::v1::OrchestratorConfig merchants;
  std::shared_ptr<spdlog::logger> logger;
  if (std::string err =
          FirstError({SetUpLogger(log_level, &logger), ResolveKafkaOptions(&kafka),
                      api::LoadApiConfig(api_config, &config),
                      LoadMerchantConfig(merchant_config, &merchants), CheckTlsFlags(tls)});
      !err.empty()) {
    std::fprintf(stderr, "payorch api: %s\n", err.c_str());
    return 2;
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "payorch api: --data is required\n");
    return 2;
  }
  if (kafka.bootstrap_servers.empty()) {
    std::fprintf(stderr, "payorch api: --brokers or --bootstrap-file is required\n");
    return 2;
  }
  if (!http::ParseAddress(http_addr)) {
    std::fprintf(stderr, "payorch api: --http: '%s' is not host:port\n", http_addr.c_str());
    return 2;
  }
  if (!metrics_addr.empty() && !http::ParseAddress(metrics_addr)) {
    std::fprintf(stderr, "payorch api: --metrics: '%s' is not host:port\n", metrics_addr.c_str());
    return 2;
  }
  kafka.logger = logger;
  projection::ServiceOptions so;
  so.data_dir = data_dir + "/projection";
  so.max_lag = max_lag;
  so.runner.kafka = kafka;
  so.runner.logger = logger;
  // The projection (whose batches the API's events follower observes) and the webhook
  // feeder share one reader of the events topic; POSTs wait on the follower, so it fetches
  // on the hot path.
  auto events_reader = log::SharedReader::Open(kafka.HotPath(), "payorch.events",
                                               kafka.Topic(log::TopicKind::kEvents));
  if (!events_reader.ok()) {
    std::fprintf(stderr, "payorch api: events reader: %s\n",
                 events_reader.status().ToString().c_str());
    return 1;
  }
  so.runner.shared = events_reader.value().get();
  projection::ProjectionService service(so);
  if (std::string err = service.Open(); !err.empty()) {
    std::fprintf(stderr, "payorch api: %s\n", err.c_str());
    return 1;
  }
  api::MerchantApiOptions mo;
  mo.data_dir = data_dir;
  mo.kafka = kafka;
  mo.config = config;
  mo.store = &service.store();
  mo.runner = &service.runner();
  mo.events_reader = events_reader.value().get();
  mo.max_lag = max_lag;
  mo.merchant_configured = [&merchants](const std::string& m) {
    return std::any_of(merchants.merchants().begin(), merchants.merchants().end(),
                       [&](const auto& c) { return c.merchant_id() == m; });
  };
  api::MerchantApi merchant_api(std::move(mo));
  if (std::string err = merchant_api.Start(); !err.empty()) {
    std::fprintf(stderr, "payorch api: %s\n", err.c_str());
    return 1;
  }
  if (Status s = events_reader.value()->Start(); !s.ok()) {
    std::fprintf(stderr, "payorch api: events reader: %s\n", s.ToString().c_str());
    return 1;
  }
  http::ServerOptions server_options;
  server_options.threads = threads;
  server_options.blocking_threads = api::kApiBlockingThreads;
  server_options.io_threads = api::kApiIoThreads;
  ApplyTls(tls, &server_options);
  server_options.name = "api";
  metrics::RuntimeMetrics runtime_metrics;
  server_options.on_request = metrics::HttpRecorder(&runtime_metrics);
  server_options.shape_error = api::ShapeError;
  http::Server server(server_options);
  merchant_api.Mount(server);
  http::Result<int> port = server.Start(http_addr);
  if (!port) {
    std::fprintf(stderr, "payorch api: --http: %s\n", port.error().c_str());
    return 1;
  }
  const std::string bound = http::ParseAddress(http_addr)->host + ":" + std::to_string(*port);
  std::printf("merchant API at %s://%s/v1/\n", std::string(http::Scheme(server_options)).c_str(),
              bound.c_str());
  std::fflush(stdout);
  // /metrics and /health on a listener and threads of their own (docs/observability.md).
  metrics::Readiness readiness;
  readiness.AddCheck("broker", metrics::BrokerCheck(kafka));
  readiness.AddCheck("projection", [&service, max_lag] {
    return metrics::ProjectionCheck(service.runner().lag(), max_lag, "");
  });
  http::Server metrics_server(http::ServerOptions{.threads = 2, .name = "metrics"});
  if (!metrics_addr.empty()) {
    metrics::RegisterMetricsRoutes(metrics_server, runtime_metrics);
    metrics::RegisterHealthRoutes(metrics_server, readiness);
    http::Result<int> mport = metrics_server.Start(metrics_addr);
    if (!mport) {
      std::fprintf(stderr, "payorch api: --metrics: %s\n", mport.error().c_str());
      return 1;
    }
    std::printf("metrics at http://%s:%d/metrics\n", http::ParseAddress(metrics_addr)->host.c_str(),
                *mport);
    std::fflush(stdout);
  }
  if (!http_file.empty()) {
    if (std::string err = WriteBootstrapFile(http_file, bound); !err.empty()) {
      std::fprintf(stderr, "payorch api: %s\n", err.c_str());
      return 1;
    }
  }
  // The projection follows the log on its own thread; on a stop signal (or the projection's
  // error) the server stops first, and the store closes last, so no request reads it after.
  std::atomic<bool> stop_projection{false};
  std::string err;
  std::thread projection_thread([&] {
    NameThisThread("po-projection");
    err = service.Run(stop_projection);
    if (!err.empty()) g_stop = true;
  });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  metrics_server.Stop();
  merchant_api.Stop();
  stop_projection = true;
  projection_thread.join();
  events_reader.value()->Stop();  // every subscriber has stopped polling
  if (std::string close_err = service.Close(); err.empty()) err = close_err;
  if (!err.empty()) {
    logger->error("payorch api: {}", err);
    return 1;
  }
  return 0;
}

}  // namespace payorch::cli
