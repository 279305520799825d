// payorch demo: the embedded broker, the orchestrator and a built-in upstream, in one
// process; prints what happened to the payments and checks the log.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "command/plan_builder.h"
#include "config/config.h"
#include "connectors/registry.h"
#include "http/server.h"
#include "log/embedded_broker.h"
#include "metrics/prometheus.h"
#include "runtime/checker.h"
#include "runtime/commerce_workload.h"
#include "runtime/orchestrator.h"
#include "runtime/workload.h"

namespace payorch::cli {

namespace {

// The demo's processors: a co-branded card that declines 15%, an unreliable processor
// (declines, timeouts whose charge may or may not have happened, network failures, 5xx),
// Apple Pay that takes at most 30.00 per operation (the rest splits onto a card), and
// reliable Stripe- and Adyen-like processors.
constexpr char kDemoGateways[] =
    "cobranded_card=flaky:seed=11,decline=0.15;"
    "flaky_psp=flaky:seed=12,decline=0.05,hard_decline=0.01,timeout=0.04,lost=0.02,"
    "network=0.05,unavailable=0.03;"
    "applepay=mock:max=3000;stripe=mock;adyen=mock;*=mock";

std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted = true; }

}  // namespace

int RunDemo(int argc, char** argv) {
  int64_t payments = 10'000;
  int partitions = 8;
  int64_t seed = 1;
  int rate = 0;
  int threads = 8;
  int64_t timeout_s = 180;
  std::string config_path;
  std::string gateways = kDemoGateways;
  std::string data_dir;
  std::string log_level = "warn";
  std::string metrics_addr;
  bool hold = false;
  int fetch_wait_ms = 5;
  int64_t orders = -1;    // -1: one per 50 payments
  int64_t invoices = -1;  // -1: one per 100 payments
  FlagSet flags("demo",
                "Starts the embedded broker and the orchestrator in this process, publishes a\n"
                "mix of payments as an upstream service would, waits for every payment to\n"
                "settle, prints a summary and checks the whole log with `payorch check`'s rules.");
  flags.Int("payments", &payments, "number of payments to create", Bounds::AtLeast(1));
  flags.Int("partitions", &partitions, "partitions of the commands and events topics",
            Bounds::AtLeast(1));
  flags.Int("seed", &seed, "seed of the payment mix");
  flags.Int("orders", &orders,
            "orders checked out and paid by card beside the mix (-1 = one per 50 payments)",
            Bounds::AtLeast(-1));
  flags.Int("invoices", &invoices,
            "invoices in 2-3 installments paid beside the mix (-1 = one per 100 payments)",
            Bounds::AtLeast(-1));
  flags.Int("rate", &rate, "arrival rate in payments/s (0 = as fast as possible)");
  flags.Int("connector-threads", &threads, "gateway calls in parallel", Bounds::AtLeast(1));
  flags.Int("timeout", &timeout_s, "seconds to wait for every payment to settle");
  flags.String("config", &config_path, "merchant configuration file (default: built-in demo)");
  flags.String("gateways", &gateways, "simulated processors, \"id=spec;...;*=spec\"");
  flags.String("data-dir", &data_dir, "state store directory (default: a fresh temp dir)");
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  flags.String("metrics", &metrics_addr, "serve GET /metrics (Prometheus) on host:port");
  flags.Int("fetch-wait-ms", &fetch_wait_ms,
            "consumers' fetch.wait.max.ms (the embedded broker does not wake long polls)");
  flags.Bool("hold", &hold, "keep the broker running after the summary, until Ctrl-C");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  std::shared_ptr<spdlog::logger> logger;
  ::payments::config::v1::OrchestratorConfig config;
  if (std::string err =
          FirstError({SetUpLogger(log_level, &logger), LoadMerchantConfig(config_path, &config)});
      !err.empty()) {
    std::fprintf(stderr, "payorch demo: %s\n", err.c_str());
    return 2;
  }
  command::PlanBuilder plans(config);

  if (data_dir.empty()) data_dir = FreshTempDir("demo");
  std::unique_ptr<connectors::GatewayRegistry> registry;
  if (std::string err = MakeGateways(gateways, data_dir + "/ledgers", config, &registry);
      !err.empty()) {
    std::fprintf(stderr, "payorch demo: %s\n", err.c_str());
    return 2;
  }

  auto broker = log::EmbeddedBroker::Start(1, logger);
  if (!broker.ok()) {
    std::fprintf(stderr, "payorch demo: embedded broker: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  log::KafkaOptions kafka;
  kafka.bootstrap_servers = broker.value()->bootstrap();
  kafka.partitions = partitions;
  kafka.fetch_wait_max_ms = fetch_wait_ms;
  kafka.logger = logger;
  if (auto st = broker.value()->CreateTopics(kafka); !st.ok()) {
    std::fprintf(stderr, "payorch demo: topics: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("embedded broker at %s; %d partitions; state in %s\n",
              kafka.bootstrap_servers.c_str(), partitions, data_dir.c_str());

  SystemClock clock;
  metrics::RuntimeMetrics runtime_metrics;
  kafka.lag_probe = &runtime_metrics.lag_probe;
  http::Server metrics_server(http::ServerOptions{.threads = 1});
  if (!metrics_addr.empty()) {
    metrics::RegisterMetricsRoutes(metrics_server, runtime_metrics);
    auto port = metrics_server.Start(metrics_addr);
    if (!port) {
      std::fprintf(stderr, "payorch demo: --metrics: %s\n", port.error().c_str());
      return 2;
    }
    std::printf("metrics at http://%s:%d/metrics\n", http::ParseAddress(metrics_addr)->host.c_str(),
                *port);
  }
  runtime::OrchestratorOptions oo;
  oo.metrics = &runtime_metrics;
  oo.kafka = kafka;
  oo.data_dir = data_dir + "/state";
  oo.writer_id = "demo-" + std::to_string(::getpid());
  oo.connector_threads = threads;
  oo.plans = &plans;
  oo.gateways = registry.get();
  oo.clock = &clock;
  oo.logger = logger;
  runtime::Orchestrator orchestrator(oo);
  std::atomic<bool> stop{false};
  std::string run_error;
  std::thread runner([&] {
    run_error = orchestrator.Run(stop);
    if (!run_error.empty()) g_interrupted = true;
  });
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  runtime::WorkloadOptions wo;
  wo.payments = static_cast<int>(payments);
  wo.seed = static_cast<uint64_t>(seed);
  wo.rate = rate;
  runtime::Workload workload(kafka, wo);
  // The slice of orders and invoices (issue 21): one order per 50 payments of the mix, one
  // invoice in 2-3 installments per 100, each paid by ordinary card payments.
  runtime::CommerceOptions co;
  co.orders = static_cast<int>(orders >= 0 ? orders : payments / 50);
  co.invoices = static_cast<int>(invoices >= 0 ? invoices : payments / 100);
  co.seed = static_cast<uint64_t>(seed);
  runtime::CommerceWorkload commerce(kafka, co);
  int rc = 0;
  if (std::string err = workload.Start(); !err.empty()) {
    std::fprintf(stderr, "payorch demo: %s\n", err.c_str());
    rc = 1;
  }
  if (std::string err = rc == 0 ? commerce.Start() : ""; !err.empty()) {
    std::fprintf(stderr, "payorch demo: %s\n", err.c_str());
    rc = 1;
  }
  ProgressBar bar(stderr);
  // Publish once every consumer group has handed out its partitions, so latency measures
  // the pipeline, not the groups' first join.
  const auto ready_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (rc == 0 && !g_interrupted && std::chrono::steady_clock::now() < ready_by &&
         (orchestrator.probe().partitions.load() < partitions ||
          orchestrator.probe().connectors.partitions.load() < partitions || !workload.ready())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (rc == 0) {
    if (std::string err = workload.PublishAll([&](int64_t n) { bar.Update("sent", n, payments); });
        !err.empty()) {
      std::fprintf(stderr, "payorch demo: %s\n", err.c_str());
      rc = 1;
    }
  }
  if (rc == 0) {
    if (std::string err = commerce.PublishAll(); !err.empty()) {
      std::fprintf(stderr, "payorch demo: orders and invoices: %s\n", err.c_str());
      rc = 1;
    }
  }
  bool settled = false;
  if (rc == 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (!g_interrupted && std::chrono::steady_clock::now() < deadline) {
      settled = workload.WaitSettled(200, [&](int64_t n) { bar.Update("settled", n, payments); });
      if (settled) break;
    }
    const auto left = deadline - std::chrono::steady_clock::now();
    settled =
        settled && commerce.WaitSettled(static_cast<int>(std::max<int64_t>(
                       0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count())));
    bar.Done();
  }
  workload.Stop();
  commerce.Stop();
  // A stop drains: connectors first, then the writers decide every command left.
  stop = true;
  runner.join();
  if (!run_error.empty()) {
    std::fprintf(stderr, "payorch demo: orchestrator: %s\n", run_error.c_str());
    rc = 1;
  }

  const runtime::WorkloadSummary s = workload.Summary();
  const double tput = s.seconds > 0 ? static_cast<double>(s.payments - s.unsettled) / s.seconds : 0;
  std::printf("\n%-40s %10s\n", "payments", "count");
  std::printf("%-40s %10lld\n", "created", static_cast<long long>(s.payments));
  std::printf("%-40s %10lld\n", "completed (succeeded / requires capture)",
              static_cast<long long>(s.completed));
  std::printf("%-40s %10lld\n", "failed (declined, plan exhausted)",
              static_cast<long long>(s.failed));
  std::printf("%-40s %10lld\n", "went to processing, then resolved",
              static_cast<long long>(s.processing_resolved));
  std::printf("%-40s %10lld\n", "not settled before the timeout",
              static_cast<long long>(s.unsettled));
  std::printf("%-40s %10lld\n", "manual captures", static_cast<long long>(s.captures));
  std::printf("%-40s %10lld\n", "refunds", static_cast<long long>(s.refunds));
  std::printf("%-40s %10lld\n", "commands rejected (bad input, with reason)",
              static_cast<long long>(s.rejected));
  std::printf("%-40s %10lld\n", "duplicate commands de-duplicated",
              static_cast<long long>(s.deduplicated));
  std::printf("%-40s %10lld\n", "events (counted)", static_cast<long long>(s.events));
  std::printf(
      "\nlatency create -> final event: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms);
  std::printf("throughput: %.0f payments/s (%.2f s from first create to last final event)\n", tput,
              s.seconds);
  const runtime::CommerceSummary cs = commerce.Summary();
  auto by_status = [](const std::map<std::string, int64_t>& m) {
    std::string out;
    for (const auto& [status, n] : m) {
      out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + status;
    }
    return out.empty() ? std::string("none") : out;
  };
  std::printf("\n%-40s %10lld  (%s)\n", "orders (checkout, paid by card)",
              static_cast<long long>(cs.orders), by_status(cs.orders_by_status).c_str());
  std::printf("%-40s %10lld  (%s)\n", "invoices (2-3 installments)",
              static_cast<long long>(cs.invoices), by_status(cs.invoices_by_status).c_str());
  std::printf("%-40s %10lld  of %lld\n", "installments paid",
              static_cast<long long>(cs.installments_paid),
              static_cast<long long>(cs.installments));
  std::printf("%-40s %10lld\n", "order and invoice commands rejected",
              static_cast<long long>(cs.rejected));

  std::string check_error;
  runtime::CheckReport report =
      runtime::CheckLog(kafka, registry->LedgerEntries(), &check_error, {.require_drained = true});
  std::printf("\npayorch check:\n");
  if (!check_error.empty()) {
    std::printf("  could not read the log: %s\n", check_error.c_str());
    rc = 1;
  } else {
    report.Print(stdout);
    if (!report.ok()) rc = 1;
  }
  if (!settled) rc = 1;

  std::printf(
      "\nLook at the topics with kcat while the broker runs (use --hold to keep it up):\n"
      "  kcat -b %s -L\n"
      "  kcat -b %s -t payorch.events -C -e -f '%%p %%o %%k\\n'\n"
      "  payorch tail --brokers %s --from-beginning --max 20\n",
      kafka.bootstrap_servers.c_str(), kafka.bootstrap_servers.c_str(),
      kafka.bootstrap_servers.c_str());
  if (hold) {
    std::printf("holding the broker at %s; Ctrl-C to stop\n", kafka.bootstrap_servers.c_str());
    std::fflush(stdout);
    g_interrupted = false;
    while (!g_interrupted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return rc;
}

}  // namespace payorch::cli
