// payorch run: the orchestrator (single writers + connectors) on a Kafka log.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>

#include "api/config.h"
#include "api/merchant_api.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "command/plan_builder.h"
#include "config/config.h"
#include "connectors/registry.h"
#include "connectors/success_rate.h"
#include "http/server.h"
#include "log/admin.h"
#include "log/embedded_broker.h"
#include "metrics/health.h"
#include "metrics/prometheus.h"
#include "projection/service.h"
#include "runtime/orchestrator.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }

// `--http`: the query API (src/projection/query.h) over a projection store in
// DATA_DIR/projection, kept up to date on its own thread alongside the orchestrator.
// `server` is reachable for other routes until Start().
// With --merchant-api it serves the merchant API (src/api/) instead of the query routes,
// which would show every merchant's payments without a key.
struct QueryApi {
  std::unique_ptr<projection::ProjectionService> service;
  std::unique_ptr<api::MerchantApi> merchant;
  explicit QueryApi(http::ServerOptions options) : server(std::move(options)) {}
  http::Server server;
  std::atomic<bool> stop{false};
  std::thread thread;
  std::shared_ptr<spdlog::logger> projection_logger;

  // Opens the store, mounts the routes, starts serving and projecting. "" or an error.
  std::string Start(const std::string& address, const std::string& dir,
                    const log::KafkaOptions& kafka, int64_t max_lag,
                    const std::shared_ptr<spdlog::logger>& logger,
                    const api::ApiConfig* merchant_config = nullptr,
                    const std::string& merchant_dir = "",
                    connectors::SuccessRateRouter* router = nullptr,
                    std::function<bool()> overloaded = nullptr,
                    std::function<bool(const std::string&)> merchant_configured = nullptr) {
    projection::ServiceOptions so{.data_dir = dir, .runner = {}, .max_lag = max_lag};
    so.runner.kafka = kafka;
    so.runner.logger = logger;
    service = std::make_unique<projection::ProjectionService>(so);
    if (std::string err = service->Open(); !err.empty()) return err;
    projection_logger = logger;
    if (merchant_config != nullptr) {
      api::MerchantApiOptions mo;
      mo.data_dir = merchant_dir;
      mo.kafka = kafka;
      mo.config = *merchant_config;
      mo.store = &service->store();
      mo.lag = [s = service.get()] { return s->runner().lag(); };
      mo.max_lag = max_lag;
      mo.overloaded = std::move(overloaded);
      mo.merchant_configured = std::move(merchant_configured);
      if (router != nullptr) {
        mo.on_event = [router](const ::payments::events::v1::EventEnvelope& e) {
          router->Observe(e);
        };
        mo.stamp = [router](::payments::commands::v1::CommandEnvelope* c) { router->Stamp(c); };
      }
      merchant = std::make_unique<api::MerchantApi>(std::move(mo));
      if (std::string err = merchant->Start(); !err.empty()) return "--merchant-api: " + err;
      merchant->Mount(server);
    } else {
      service->Mount(server);
    }
    auto port = server.Start(address);
    if (!port) return "--http: " + port.error();
    std::printf("%s API at http://%s:%d/v1/\n", merchant ? "merchant" : "query",
                http::ParseAddress(address)->host.c_str(), *port);
    std::fflush(stdout);
    thread = std::thread([this, logger] {
      if (std::string err = service->Run(stop); !err.empty()) logger->error("projection: {}", err);
    });
    return "";
  }
  // The server first, the store last: no request reads the store after it closes.
  void Stop() {
    server.Stop();
    if (merchant) merchant->Stop();
    stop = true;
    if (thread.joinable()) thread.join();
    if (service) {
      if (std::string err = service->Close(); !err.empty()) {
        projection_logger->error("projection: {}", err);
      }
    }
  }
};
}  // namespace

int RunRun(int argc, char** argv) {
  // From the very start: a stop during start-up still drains instead of dying.
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  log::KafkaOptions kafka;
  std::string config_path;
  std::string data_dir = "data/payorch";
  std::string writer_id;
  std::string gateways = "*=mock";
  std::string ledger_dir;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string metrics_addr;
  std::string webhooks_addr;
  std::string webhook_secrets;
  std::string http_addr;
  int64_t max_lag = 10'000;
  bool merchant_api = false;
  std::string api_config;
  int threads = 8;
  int64_t queue_limit = 256;
  int64_t max_queued = 4096;
  int64_t max_unknown = 512;
  int64_t max_cached = 100'000;
  bool no_connectors = false;
  bool no_writers = false;
  std::string assign;
  FlagSet flags("run",
                "Runs the orchestrator: the single writer of each assigned command partition\n"
                "(consumer group payorch.writers) and the connectors that call gateways for the\n"
                "assigned event partitions (group payorch.connectors). With neither --brokers nor\n"
                "--bootstrap-file it starts the embedded broker in this process.");
  AddKafkaFlags(flags, &kafka);
  flags.String("config", &config_path,
               "merchant configuration, YAML or JSON (default: built-in demo merchants)");
  flags.String("data-dir", &data_dir, "RocksDB state store directory (a cache of the log)");
  flags.String("writer-id", &writer_id, "name in WriterClaimed records (default: host-pid)");
  flags.String("gateways", &gateways,
               "simulated processors: \"id=spec;...;*=spec\" (see src/connectors/README.md)");
  flags.String("ledger-dir", &ledger_dir,
               "where simulated gateways keep their ledgers (default: DATA_DIR/ledgers)");
  flags.Int("connector-threads", &threads,
            "gateway calls in parallel per processor (its bulkhead's workers)");
  flags.Int("connector-queue-limit", &queue_limit,
            "gateway tasks queued per processor before its new charges are skipped to the "
            "plan's fallback (docs/overload.md)");
  flags.Int("connector-max-queued", &max_queued,
            "gateway tasks queued in all before the connectors pause reading the log and new "
            "payments are refused");
  flags.Int("max-unknown-outcomes", &max_unknown,
            "gateway outcomes being reconciled at once before new payments are refused "
            "(0: no limit)");
  flags.Int("max-cached-payments", &max_cached, "payment states kept in memory per partition");
  flags.Bool("no-connectors", &no_connectors, "run only the writers");
  flags.Bool("no-writers", &no_writers, "run only the connectors");
  flags.String("assign", &assign,
               "own these partitions without a consumer group: \"all\" or \"0,2,5\" (fencing "
               "still keeps one counted writer per partition)");
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  flags.String("log-format", &log_format,
               "text or json (JSON lines with payment_id, partition, epoch, ...); card numbers "
               "are redacted in both");
  flags.String("metrics", &metrics_addr,
               "serve GET /metrics (Prometheus) and /health/live, /health/ready on host:port "
               "(port 0: a free port, printed as \"metrics at http://host:port\")");
  flags.String("webhooks", &webhooks_addr,
               "serve POST /v1/webhooks/{processor} (signed gateway notifications, "
               "docs/gateway-api.md) on host:port");
  flags.String("webhook-secrets", &webhook_secrets,
               "\"processor=ENV_VAR;...\": environment variables holding the signing secrets");
  flags.String("http", &http_addr,
               "serve the query API (docs/projection.md) on host:port, from a projection kept "
               "in DATA_DIR/projection");
  flags.Int("max-lag", &max_lag,
            "with --http: answer 503 while the projection is more than "
            "this many records behind (-1: never)");
  flags.Bool("merchant-api", &merchant_api,
             "with --http: serve the merchant API (docs/merchant-api.md; keys in "
             "DATA_DIR/api/keys.jsonl) instead of the internal query API");
  flags.String("api-config", &api_config, "with --merchant-api: YAML (docs/merchant-api.md)");
  if (std::string err = flags.Parse(argc, argv, 1); !err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  for (const auto& [name, value, min, max] :
       {std::tuple<const char*, int64_t, int64_t, int64_t>{"connector-threads", threads, 1, 256},
        {"connector-queue-limit", queue_limit, 1, 1'000'000},
        {"connector-max-queued", max_queued, 1, 10'000'000},
        {"max-unknown-outcomes", max_unknown, 0, 10'000'000}}) {
    if (value < min || value > max) {
      std::fprintf(stderr, "payorch run: --%s must be in [%lld, %lld]\n", name,
                   static_cast<long long>(min), static_cast<long long>(max));
      return 2;
    }
  }
  if (!http_addr.empty() && !http::ParseAddress(http_addr)) {
    std::fprintf(stderr, "payorch run: --http: '%s' is not host:port\n", http_addr.c_str());
    return 2;
  }
  if (!metrics_addr.empty() && !http::ParseAddress(metrics_addr)) {
    std::fprintf(stderr, "payorch run: --metrics: '%s' is not host:port\n", metrics_addr.c_str());
    return 2;
  }
  std::shared_ptr<spdlog::logger> logger;
  ::payments::config::v1::OrchestratorConfig config;
  if (std::string err = FirstError(
          {SetUpLogger(log_level, &logger, log_format), LoadMerchantConfig(config_path, &config)});
      !err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  api::ApiConfig merchant_config;
  if (merchant_api && http_addr.empty()) {
    std::fprintf(stderr, "payorch run: --merchant-api needs --http\n");
    return 2;
  }
  if (std::string err = api::LoadApiConfig(api_config, &merchant_config); !err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  command::PlanBuilder plans(config);

  std::unique_ptr<log::EmbeddedBroker> embedded;
  if (kafka.bootstrap_servers.empty() && kafka.bootstrap_file.empty()) {
    auto broker = log::EmbeddedBroker::Start(1, logger);
    if (!broker.ok()) {
      std::fprintf(stderr, "payorch run: embedded broker: %s\n", broker.error().ToString().c_str());
      return 1;
    }
    embedded = std::move(broker.value());
    kafka.bootstrap_servers = embedded->bootstrap();
    std::printf("embedded broker at %s\n", kafka.bootstrap_servers.c_str());
    std::fflush(stdout);
  }
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  kafka.logger = logger;
  if (embedded) {
    if (auto st = embedded->CreateTopics(kafka); !st.ok()) {
      std::fprintf(stderr, "payorch run: topics: %s\n", st.ToString().c_str());
      return 1;
    }
  } else {
    auto admin = log::Admin::Create(kafka);
    if (!admin.ok()) {
      std::fprintf(stderr, "payorch run: %s\n", admin.error().ToString().c_str());
      return 1;
    }
    if (auto st = admin.value()->EnsureTopics(kafka); !st.ok()) {
      std::fprintf(stderr, "payorch run: topics: %s\n", st.ToString().c_str());
      return 1;
    }
  }

  std::vector<int32_t> static_partitions;
  if (!assign.empty()) {
    auto admin = log::Admin::Create(kafka);
    if (!admin.ok()) {
      std::fprintf(stderr, "payorch run: %s\n", admin.error().ToString().c_str());
      return 1;
    }
    auto count = admin.value()->PartitionCount(kafka.Topic(log::TopicKind::kCommands));
    if (!count.ok()) {
      std::fprintf(stderr, "payorch run: %s\n", count.error().ToString().c_str());
      return 1;
    }
    if (assign == "all") {
      for (int32_t p = 0; p < count.value(); ++p) static_partitions.push_back(p);
    } else {
      size_t pos = 0;
      while (pos <= assign.size()) {
        const size_t comma = std::min(assign.find(',', pos), assign.size());
        const std::string item = assign.substr(pos, comma - pos);
        char* end = nullptr;
        const long p = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || p < 0 || p >= count.value()) {
          std::fprintf(stderr, "payorch run: --assign: '%s' is not a partition in 0..%d\n",
                       item.c_str(), count.value() - 1);
          return 2;
        }
        static_partitions.push_back(static_cast<int32_t>(p));
        pos = comma + 1;
      }
    }
  }

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ledger_dir.empty()) ledger_dir = data_dir + "/ledgers";
  std::filesystem::create_directories(ledger_dir, ec);
  if (ec) {
    std::fprintf(stderr, "payorch run: cannot create %s: %s\n", ledger_dir.c_str(),
                 ec.message().c_str());
    return 2;
  }
  connectors::GatewayRegistryOptions gateway_options;
  gateway_options.ledger_dir = ledger_dir;
  connectors::GatewayRegistry registry(gateway_options);
  if (auto st = registry.ConfigureAll(gateways); !st.ok()) {
    std::fprintf(stderr, "payorch run: --gateways: %s\n", st.message().c_str());
    return 2;
  }
  registry.breakers().Configure(config);  // circuit breakers from merchant configuration
  // Success-rate ordering for merchants that enable it, stamped into creates the merchant
  // API appends (upstream producers stamp their own, or leave the static plan order).
  connectors::SuccessRateRouter router(config, /*seed=*/0x5ca1ab1e);
  if (writer_id.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    writer_id = std::string(host) + "-" + std::to_string(::getpid());
  }

  SystemClock clock;
  metrics::RuntimeMetrics runtime_metrics;
  kafka.lag_probe = &runtime_metrics.lag_probe;
  runtime::OrchestratorOptions oo;
  oo.metrics = &runtime_metrics;
  oo.kafka = kafka;
  oo.data_dir = data_dir + "/state";
  oo.writer_id = writer_id;
  oo.run_writers = !no_writers;
  oo.run_connectors = !no_connectors;
  oo.connector_threads = threads;
  oo.connector_queue_limit = static_cast<size_t>(queue_limit);
  oo.connector_max_queued = static_cast<size_t>(max_queued);
  oo.max_unknown_outcomes = static_cast<size_t>(max_unknown);
  oo.max_cached_payments = static_cast<size_t>(max_cached);
  oo.static_partitions = static_partitions;
  oo.plans = &plans;
  oo.gateways = &registry;
  oo.clock = &clock;
  oo.logger = logger;
  runtime::Orchestrator orchestrator(oo);

  // /metrics and /health on their own server (--metrics) and on the query API's (--http).
  metrics::Readiness readiness;
  std::unique_ptr<http::Server> metrics_server;
  std::mutex broker_check_mu;
  std::unique_ptr<log::Admin> broker_admin;
  if (!metrics_addr.empty() || !http_addr.empty()) {
    readiness.AddCheck("writers", [&orchestrator, no_writers] {
      if (no_writers) return metrics::Check{true, "writers not run here"};
      const bool ok = orchestrator.probe().writers_ready.load();
      return metrics::Check{ok, ok ? std::to_string(orchestrator.probe().partitions.load()) +
                                         " partitions restored and claimed"
                                   : "partitions not yet assigned and restored"};
    });
    readiness.AddCheck("broker", [&] {
      std::lock_guard<std::mutex> lock(broker_check_mu);
      if (!broker_admin) {
        auto admin = log::Admin::Create(kafka);
        if (!admin.ok()) return metrics::Check{false, admin.error().ToString()};
        broker_admin = std::move(admin.value());
      }
      auto topics = broker_admin->ListTopics(1'000);
      if (!topics.ok()) return metrics::Check{false, topics.error().ToString()};
      return metrics::Check{true, kafka.bootstrap_servers};
    });
  }
  if (!metrics_addr.empty()) {
    metrics_server = std::make_unique<http::Server>(
        http::ServerOptions{.threads = 2, .name = "metrics", .logger = logger});
    metrics::RegisterMetricsRoutes(*metrics_server, runtime_metrics);
    metrics::RegisterHealthRoutes(*metrics_server, readiness);
    auto port = metrics_server->Start(metrics_addr);
    if (!port) {
      std::fprintf(stderr, "payorch run: --metrics: %s\n", port.error().c_str());
      return 1;
    }
    std::printf("metrics at http://%s:%d/metrics\n", http::ParseAddress(metrics_addr)->host.c_str(),
                *port);
    std::fflush(stdout);
  }
  std::shared_ptr<void> webhooks;
  if (!webhooks_addr.empty()) {
    std::string werr;
    webhooks = StartWebhooks(webhooks_addr, webhook_secrets, kafka, &werr);
    if (!webhooks) {
      std::fprintf(stderr, "payorch run: %s\n", werr.c_str());
      return 2;
    }
  }
  // 64 workers: merchant API handlers block until the log decides. HTTP answers counted by
  // route and status, their latency in one histogram (src/http RequestRecord).
  QueryApi query_api(http::ServerOptions{
      .threads = 64,
      .io_threads = 2,
      .name = "api",
      .logger = logger,
      .on_request = [&runtime_metrics](const http::RequestRecord& r) {
        runtime_metrics.http_requests.Add({r.server, r.route, std::to_string(r.status)});
        runtime_metrics.http_request.ObserveMicros(r.duration.count());
      }});
  if (!http_addr.empty()) {
    metrics::RegisterMetricsRoutes(query_api.server, runtime_metrics);
    metrics::RegisterHealthRoutes(query_api.server, readiness);
    if (std::string qerr = query_api.Start(
            http_addr, data_dir + "/projection", kafka, max_lag, logger,
            merchant_api ? &merchant_config : nullptr, data_dir, &router,
            [&orchestrator] { return orchestrator.admission().overloaded(); },
            [&plans](const std::string& m) { return plans.FindMerchant(m) != nullptr; });
        !qerr.empty()) {
      std::fprintf(stderr, "payorch run: %s\n", qerr.c_str());
      return 1;
    }
    // Registered once the service exists (Start set it before serving).
    readiness.AddCheck("projection", [&query_api, max_lag] {
      const int64_t lag = query_api.service->runner().lag();
      const bool ok = max_lag < 0 || (lag >= 0 && lag <= max_lag);
      return metrics::Check{
          ok, std::to_string(lag) + " records behind (max " + std::to_string(max_lag) + ")"};
    });
  }
  logger->info("payorch run: writer {} on {}", writer_id, kafka.bootstrap_servers);
  std::string err = orchestrator.Run(g_stop);
  query_api.Stop();
  webhooks.reset();
  if (metrics_server) metrics_server->Stop();
  if (!err.empty()) {
    logger->error("payorch run: {}", err);
    return 1;
  }
  logger->info("payorch run: stopped");
  return 0;
}

}  // namespace payorch::cli
