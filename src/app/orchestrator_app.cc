#include "app/orchestrator_app.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "app/internal/query_api.h"
#include "app/internal/webhooks.h"
#include "app/kafka_options.h"
#include "command/plan_builder.h"
#include "common/clock.h"
#include "connectors/registry.h"
#include "connectors/success_rate.h"
#include "http/server.h"
#include "log/admin.h"
#include "log/embedded_broker.h"
#include "metrics/health.h"
#include "metrics/prometheus.h"
#include "metrics/runtime_metrics.h"
#include "runtime/orchestrator.h"

namespace payorch::app {

namespace {

using Kind = RunOutcome::Kind;
// A step of the start-up: std::nullopt to carry on, else how Run ends.
using Step = std::optional<RunOutcome>;

Step BadInput(std::string message) { return RunOutcome{Kind::kBadInput, std::move(message)}; }
Step Failed(std::string message) { return RunOutcome{Kind::kFailed, std::move(message)}; }

void PrintToStdout(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// The form of --assign, before the topic's partition count is known: "all" or "0,2,5".
std::string CheckAssignForm(const std::string& assign) {
  if (assign.empty() || assign == "all") return "";
  std::set<long> seen;
  size_t pos = 0;
  while (pos <= assign.size()) {
    const size_t comma = std::min(assign.find(',', pos), assign.size());
    const std::string item = assign.substr(pos, comma - pos);
    if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != item.npos) {
      return "--assign: '" + item + "' is not a partition number (\"all\" or \"0,2,5\")";
    }
    if (!seen.insert(std::stol(item)).second) return "--assign: partition " + item + " given twice";
    pos = comma + 1;
  }
  return "";
}

std::string CheckLimits(const char* name, int64_t value, Limits limits) {
  if (value >= limits.min && value <= limits.max) return "";
  if (limits.max == std::numeric_limits<int64_t>::max()) {
    return "--" + std::string(name) + ": must be at least " + std::to_string(limits.min) +
           ", not " + std::to_string(value);
  }
  return "--" + std::string(name) + ": must be in [" + std::to_string(limits.min) + ", " +
         std::to_string(limits.max) + "], not " + std::to_string(value);
}

// "all" or "0,2,5" against the commands topic's `count` partitions.
Step ParseAssign(const std::string& assign, int32_t count, std::vector<int32_t>* out) {
  if (assign == "all") {
    for (int32_t p = 0; p < count; ++p) out->push_back(p);
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos <= assign.size()) {
    const size_t comma = std::min(assign.find(',', pos), assign.size());
    const std::string item = assign.substr(pos, comma - pos);
    char* end = nullptr;
    const long p = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || p < 0 || p >= count) {
      return BadInput("--assign: '" + item + "' is not a partition in 0.." +
                      std::to_string(count - 1));
    }
    out->push_back(static_cast<int32_t>(p));
    pos = comma + 1;
  }
  return std::nullopt;
}

std::string HostPid() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + "-" + std::to_string(::getpid());
}

// Everything `payorch run` keeps alive. Members are destroyed in reverse declaration
// order: servers before what their handlers read, the broker last. The gateways are built
// first (a bad --gateways ends the run before a broker starts), then the log and the rest
// in declaration order.
class OrchestratorApp {
 public:
  explicit OrchestratorApp(const RunOptions& options)
      : o_(options), plans_(o_.config), router_(o_.config, /*seed=*/0x5ca1ab1e) {
    if (!o_.announce) o_.announce = PrintToStdout;
    if (!o_.logger) o_.logger = spdlog::default_logger();
  }

  RunOutcome Run(const std::atomic<bool>& stop);

 private:
  Step ConnectToLog();
  Step ResolveAssignment();
  Step MakeGateways();
  void MakeOrchestrator();
  void AddReadinessChecks();
  Step StartMetricsServer();
  Step StartWebhooks();
  Step StartQueryApi();
  void StopServers();

  RunOptions o_;
  command::PlanBuilder plans_;
  std::unique_ptr<log::EmbeddedBroker> embedded_;
  std::vector<int32_t> static_partitions_;
  std::unique_ptr<connectors::GatewayRegistry> registry_;
  // Success-rate ordering for merchants that enable it, stamped into creates the merchant
  // API appends (upstream producers stamp their own, or leave the static plan order).
  connectors::SuccessRateRouter router_;
  SystemClock clock_;
  metrics::RuntimeMetrics runtime_metrics_;
  std::unique_ptr<runtime::Orchestrator> orchestrator_;
  metrics::Readiness readiness_;
  std::unique_ptr<http::Server> metrics_server_;
  std::shared_ptr<void> webhooks_;
  std::unique_ptr<internal::QueryApi> query_api_;
};

RunOutcome OrchestratorApp::Run(const std::atomic<bool>& stop) {
  if (Step end = MakeGateways()) return *end;
  if (Step end = ConnectToLog()) return *end;
  if (Step end = ResolveAssignment()) return *end;
  MakeOrchestrator();
  AddReadinessChecks();
  Step end = StartMetricsServer();
  if (!end) end = StartWebhooks();
  if (!end) end = StartQueryApi();
  if (end) {
    StopServers();
    return *end;
  }
  o_.logger->info("payorch run: writer {} on {}", o_.writer_id, o_.kafka.bootstrap_servers);
  std::string err = orchestrator_->Run(stop);
  StopServers();
  if (!err.empty()) {
    o_.logger->error("payorch run: {}", err);
    return RunOutcome{Kind::kRunFailed, err};
  }
  o_.logger->info("payorch run: stopped");
  return RunOutcome{};
}

// The embedded broker when no broker is given, then the payorch topics.
Step OrchestratorApp::ConnectToLog() {
  log::KafkaOptions& kafka = o_.kafka;
  if (kafka.bootstrap_servers.empty() && kafka.bootstrap_file.empty()) {
    auto broker = log::EmbeddedBroker::Start(1, o_.logger);
    if (!broker.ok()) return Failed("embedded broker: " + broker.status().ToString());
    embedded_ = std::move(broker.value());
    kafka.bootstrap_servers = embedded_->bootstrap();
    o_.announce("embedded broker at " + kafka.bootstrap_servers);
  }
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) return BadInput(err);
  kafka.logger = o_.logger;
  kafka.lag_probe = &runtime_metrics_.lag_probe;
  if (embedded_) {
    if (auto st = embedded_->CreateTopics(kafka); !st.ok()) {
      return Failed("topics: " + st.ToString());
    }
    return std::nullopt;
  }
  auto admin = log::Admin::Create(kafka);
  if (!admin.ok()) return Failed(admin.status().ToString());
  if (auto st = admin.value()->EnsureTopics(kafka); !st.ok()) {
    return Failed("topics: " + st.ToString());
  }
  return std::nullopt;
}

// --assign: the partitions owned without a consumer group.
Step OrchestratorApp::ResolveAssignment() {
  if (o_.assign.empty()) return std::nullopt;
  auto admin = log::Admin::Create(o_.kafka);
  if (!admin.ok()) return Failed(admin.status().ToString());
  auto count = admin.value()->PartitionCount(o_.kafka.Topic(log::TopicKind::kCommands));
  if (!count.ok()) return Failed(count.status().ToString());
  return ParseAssign(o_.assign, count.value(), &static_partitions_);
}

// The data and ledger directories, the processors and their circuit breakers.
Step OrchestratorApp::MakeGateways() {
  std::error_code ec;
  std::filesystem::create_directories(o_.data_dir, ec);
  if (o_.ledger_dir.empty()) o_.ledger_dir = o_.data_dir + "/ledgers";
  std::filesystem::create_directories(o_.ledger_dir, ec);
  if (ec) return BadInput("cannot create " + o_.ledger_dir + ": " + ec.message());
  connectors::GatewayRegistryOptions gateway_options;
  gateway_options.ledger_dir = o_.ledger_dir;
  registry_ = std::make_unique<connectors::GatewayRegistry>(gateway_options);
  if (auto st = registry_->ConfigureAll(o_.gateways); !st.ok()) {
    return BadInput("--gateways: " + st.message());
  }
  registry_->breakers().Configure(o_.config);
  if (o_.writer_id.empty()) o_.writer_id = HostPid();
  return std::nullopt;
}

void OrchestratorApp::MakeOrchestrator() {
  runtime::OrchestratorOptions oo;
  oo.metrics = &runtime_metrics_;
  oo.kafka = o_.kafka;
  oo.data_dir = o_.data_dir + "/state";
  oo.invoice_data_dir = o_.data_dir + "/invoices";
  oo.order_data_dir = o_.data_dir + "/orders";
  oo.saga_data_dir = o_.data_dir + "/saga";
  oo.writer_id = o_.writer_id;
  oo.run_writers = !o_.no_writers;
  oo.run_connectors = !o_.no_connectors;
  oo.connector_threads = o_.connector_threads;
  oo.connector_queue_limit = static_cast<size_t>(o_.connector_queue_limit);
  oo.connector_max_queued = static_cast<size_t>(o_.connector_max_queued);
  oo.max_unknown_outcomes = static_cast<size_t>(o_.max_unknown_outcomes);
  oo.max_cached_payments = static_cast<size_t>(o_.max_cached_payments);
  oo.static_partitions = static_partitions_;
  oo.plans = &plans_;
  oo.gateways = registry_.get();
  oo.clock = &clock_;
  oo.logger = o_.logger;
  orchestrator_ = std::make_unique<runtime::Orchestrator>(oo);
}

// /health/ready on the metrics server (--metrics) and on the query API's (--http): the
// writers restored their partitions, the broker answers. "projection" joins with --http.
void OrchestratorApp::AddReadinessChecks() {
  if (o_.metrics_addr.empty() && o_.http_addr.empty()) return;
  readiness_.AddCheck("writers", [this] {
    if (o_.no_writers) return metrics::Check{true, "writers not run here"};
    const auto& probe = orchestrator_->probe();
    if (!probe.writers_ready.load())
      return metrics::Check{false, "partitions not yet assigned and restored"};
    if (const int fenced = probe.fenced_partitions.load(); fenced > 0) {
      return metrics::Check{false, std::to_string(fenced) + " of " +
                                       std::to_string(probe.partitions.load()) +
                                       " partitions fenced: another writer claimed them"};
    }
    return metrics::Check{
        true, std::to_string(probe.partitions.load()) + " partitions restored and claimed"};
  });
  readiness_.AddCheck("broker", metrics::BrokerCheck(o_.kafka));
}

Step OrchestratorApp::StartMetricsServer() {
  if (o_.metrics_addr.empty()) return std::nullopt;
  metrics_server_ = std::make_unique<http::Server>(
      http::ServerOptions{.threads = 2, .name = "metrics", .logger = o_.logger});
  metrics::RegisterMetricsRoutes(*metrics_server_, runtime_metrics_);
  metrics::RegisterHealthRoutes(*metrics_server_, readiness_);
  auto port = metrics_server_->Start(o_.metrics_addr);
  if (!port) return Failed("--metrics: " + port.error());
  o_.announce("metrics at http://" + http::ParseAddress(o_.metrics_addr)->host + ":" +
              std::to_string(*port) + "/metrics");
  return std::nullopt;
}

Step OrchestratorApp::StartWebhooks() {
  if (o_.webhooks_addr.empty()) return std::nullopt;
  std::string err;
  webhooks_ = internal::StartWebhooks(
      o_.webhooks_addr, o_.webhook_secrets, o_.kafka, o_.announce,
      http::ServerOptions{.threads = 4,
                          .name = "webhooks",
                          .tls_cert_file = o_.tls_cert_file,
                          .tls_key_file = o_.tls_key_file,
                          .logger = o_.logger,
                          .on_request = metrics::HttpRecorder(&runtime_metrics_)},
      &err);
  if (!webhooks_) return BadInput(err);
  return std::nullopt;
}

// The merchant API's payment POSTs answer asynchronously and hold no worker while the log
// decides; the invoice, order, checkout and ISO routes, which wait on a worker, have their
// own 16 (docs/http.md, Threads).
Step OrchestratorApp::StartQueryApi() {
  if (o_.http_addr.empty()) return std::nullopt;
  query_api_ = std::make_unique<internal::QueryApi>(
      http::ServerOptions{.threads = api::kApiWorkerThreads,
                          .blocking_threads = api::kApiBlockingThreads,
                          .io_threads = api::kApiIoThreads,
                          .name = "api",
                          .tls_cert_file = o_.tls_cert_file,
                          .tls_key_file = o_.tls_key_file,
                          .logger = o_.logger,
                          .on_request = metrics::HttpRecorder(&runtime_metrics_),
                          // With the merchant API on this port, the server's own refusals
                          // have its error shape too.
                          .shape_error = o_.merchant_api ? api::ShapeError : nullptr});
  metrics::RegisterMetricsRoutes(query_api_->server, runtime_metrics_);
  metrics::RegisterHealthRoutes(query_api_->server, readiness_);
  internal::QueryApiOptions qo;
  qo.address = o_.http_addr;
  qo.dir = o_.data_dir + "/projection";
  qo.kafka = o_.kafka;
  qo.max_lag = o_.max_lag;
  qo.logger = o_.logger;
  qo.merchant_config = o_.merchant_api ? &o_.merchant_config : nullptr;
  qo.merchant_dir = o_.data_dir;
  qo.router = &router_;
  qo.overloaded = [this] { return orchestrator_->admission().overloaded(); };
  qo.merchant_configured = [this](const std::string& m) {
    return plans_.FindMerchant(m) != nullptr;
  };
  qo.find_merchant = [this](const std::string& m) { return plans_.FindMerchant(m); };
  qo.announce = o_.announce;
  qo.on_projection_progress = [this](const projection::ProjectorStats& s,
                                     const std::vector<projection::PartitionPosition>& positions) {
    metrics::LabeledValues& v = runtime_metrics_.projection_events;
    v.Set({"applied"}, s.applied);
    v.Set({"duplicate"}, s.duplicates);
    v.Set({"fenced"}, s.fenced);
    v.Set({"claim"}, s.claims);
    v.Set({"other"}, s.other);
    v.Set({"undecodable"}, s.undecodable);
    v.Set({"illegal_transition"}, s.illegal_transitions);
    for (const projection::PartitionPosition& p : positions) {
      runtime_metrics_.consumer_lag.Set({"payorch.projection", std::to_string(p.partition)},
                                        p.lag());
    }
  };
  if (std::string err = query_api_->Start(qo); !err.empty()) return Failed(err);
  // Registered once the service exists (Start made it before serving).
  readiness_.AddCheck("projection", [this] {
    return metrics::ProjectionCheck(query_api_->lag(), o_.max_lag, query_api_->failure());
  });
  return std::nullopt;
}

// The query API first (its store closes last), then webhooks, then /metrics.
void OrchestratorApp::StopServers() {
  if (query_api_) query_api_->Stop();
  webhooks_.reset();
  if (metrics_server_) metrics_server_->Stop();
}

}  // namespace

std::string Validate(const RunOptions& o) {
  for (const auto& [name, value, limits] : {
           std::tuple<const char*, int64_t, Limits>{"connector-threads", o.connector_threads,
                                                    kConnectorThreadsLimits},
           {"connector-queue-limit", o.connector_queue_limit, kConnectorQueueLimitLimits},
           {"connector-max-queued", o.connector_max_queued, kConnectorMaxQueuedLimits},
           {"max-unknown-outcomes", o.max_unknown_outcomes, kMaxUnknownOutcomesLimits},
           {"max-cached-payments", o.max_cached_payments, kMaxCachedPaymentsLimits},
           {"max-lag", o.max_lag, kMaxLagLimits},
           {"partitions", o.kafka.partitions, Limits{1}},
           {"replication-factor", o.kafka.replication_factor, Limits{1}},
       }) {
    if (std::string err = CheckLimits(name, value, limits); !err.empty()) return err;
  }
  for (const std::string& arg : o.kafka.property_args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) return "-X '" + arg + "': expected key=value";
  }
  if (std::string err = CheckAssignForm(o.assign); !err.empty()) return err;
  if (!o.http_addr.empty() && !http::ParseAddress(o.http_addr)) {
    return "--http: '" + o.http_addr + "' is not host:port";
  }
  if (!o.metrics_addr.empty() && !http::ParseAddress(o.metrics_addr)) {
    return "--metrics: '" + o.metrics_addr + "' is not host:port";
  }
  if (o.merchant_api && o.http_addr.empty()) return "--merchant-api needs --http";
  if (o.max_lag != RunOptions{}.max_lag && o.http_addr.empty()) return "--max-lag needs --http";
  if (!o.webhook_secrets.empty() && o.webhooks_addr.empty()) {
    return "--webhook-secrets needs --webhooks";
  }
  if (std::string err = http::CheckTls(o.tls_cert_file, o.tls_key_file); !err.empty()) {
    return err;
  }
  if (!o.webhooks_addr.empty()) {
    if (!http::ParseAddress(o.webhooks_addr)) {
      return "--webhooks: '" + o.webhooks_addr + "' is not host:port";
    }
    std::map<std::string, std::string> secrets;
    if (std::string err = internal::ReadWebhookSecrets(o.webhook_secrets, &secrets); !err.empty()) {
      return err;
    }
  }
  return "";
}

RunOutcome Run(const RunOptions& options, const std::atomic<bool>& stop) {
  if (std::string err = Validate(options); !err.empty()) return *BadInput(err);
  OrchestratorApp app(options);
  return app.Run(stop);
}

}  // namespace payorch::app
