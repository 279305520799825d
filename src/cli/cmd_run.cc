// payorch run: the orchestrator (single writers + connectors) on a Kafka log. Parses its
// flags into app::RunOptions, loads the files they name, and runs app::Run
// (src/app/orchestrator_app.h) until SIGINT or SIGTERM.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>

#include "api/config.h"
#include "app/orchestrator_app.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"

namespace payorch::cli {

namespace {

std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }

// The flags of `payorch run`: the app's options and the files and logging it reads first.
struct RunFlags {
  app::RunOptions run;
  std::string config_path;
  std::string api_config;
  std::string log_level = "info";
  std::string log_format = "text";
  TlsFlags tls;
};

constexpr char kSummary[] =
    "Runs the orchestrator: the single writer of each assigned command partition\n"
    "(consumer group payorch.writers) and the connectors that call gateways for the\n"
    "assigned event partitions (group payorch.connectors). With neither --brokers nor\n"
    "--bootstrap-file it starts the embedded broker in this process.";

Bounds B(app::Limits limits) { return Bounds{limits.min, limits.max}; }

void AddProcessFlags(FlagSet& flags, RunFlags* f) {
  app::RunOptions& o = f->run;
  flags.String("config", &f->config_path,
               "merchant configuration, YAML or JSON (default: built-in demo merchants)");
  flags.String("data-dir", &o.data_dir, "RocksDB state store directory (a cache of the log)");
  flags.String("writer-id", &o.writer_id, "name in WriterClaimed records (default: host-pid)");
  flags.String("gateways", &o.gateways,
               "simulated processors: \"id=spec;...;*=spec\" (see src/connectors/README.md)");
  flags.String("ledger-dir", &o.ledger_dir,
               "where simulated gateways keep their ledgers (default: DATA_DIR/ledgers)");
  flags.Int("connector-threads", &o.connector_threads,
            "gateway calls in parallel per processor (its bulkhead's workers)",
            B(app::kConnectorThreadsLimits));
  flags.Int("connector-queue-limit", &o.connector_queue_limit,
            "gateway tasks queued per processor before its new charges are skipped to the "
            "plan's fallback (docs/overload.md)",
            B(app::kConnectorQueueLimitLimits));
  flags.Int("connector-max-queued", &o.connector_max_queued,
            "gateway tasks queued in all before the connectors pause reading the log and new "
            "payments are refused",
            B(app::kConnectorMaxQueuedLimits));
  flags.Int("max-unknown-outcomes", &o.max_unknown_outcomes,
            "gateway outcomes being reconciled at once before new payments are refused "
            "(0: no limit)",
            B(app::kMaxUnknownOutcomesLimits));
  flags.Int("max-cached-payments", &o.max_cached_payments,
            "payment states the writers keep in memory, for all partitions of the process (~1.6 KB "
            "each)",
            B(app::kMaxCachedPaymentsLimits));
  flags.Bool("no-connectors", &o.no_connectors, "run only the writers");
  flags.Bool("no-writers", &o.no_writers, "run only the connectors");
  flags.String("assign", &o.assign,
               "own these partitions without a consumer group: \"all\" or \"0,2,5\" (fencing "
               "still keeps one counted writer per partition)");
  flags.String("log-level", &f->log_level, "trace, debug, info, warn, error");
  flags.String("log-format", &f->log_format,
               "text or json (JSON lines with payment_id, partition, epoch, ...); card numbers "
               "are redacted in both");
}

void AddServerFlags(FlagSet& flags, RunFlags* f) {
  app::RunOptions& o = f->run;
  flags.String("metrics", &o.metrics_addr,
               "serve GET /metrics (Prometheus) and /health/live, /health/ready on host:port "
               "(port 0: a free port, printed as \"metrics at http://host:port\")");
  flags.String("webhooks", &o.webhooks_addr,
               "serve POST /v1/webhooks/{processor} (signed gateway notifications, "
               "docs/gateway-api.md) on host:port");
  flags.String("webhook-secrets", &o.webhook_secrets,
               "\"processor=ENV_VAR;...\": environment variables holding the signing secrets");
  flags.String("http", &o.http_addr,
               "serve the query API (docs/projection.md) on host:port, from a projection kept "
               "in DATA_DIR/projection");
  flags.Int("max-lag", &o.max_lag,
            "with --http: answer 503 while the projection is more than "
            "this many records behind (-1: never)",
            B(app::kMaxLagLimits));
  flags.Bool("merchant-api", &o.merchant_api,
             "with --http: serve the merchant API (docs/merchant-api.md; keys in "
             "DATA_DIR/api/keys.jsonl) instead of the internal query API");
  flags.String("api-config", &f->api_config, "with --merchant-api: YAML (docs/merchant-api.md)");
  AddTlsFlags(flags, &f->tls, "--http and --webhooks");
}

// The logger, the merchant and API configurations. "" or a one-line error.
std::string LoadFiles(RunFlags* f) {
  app::RunOptions& o = f->run;
  if (std::string err = FirstError({SetUpLogger(f->log_level, &o.logger, f->log_format),
                                    LoadMerchantConfig(f->config_path, &o.config)});
      !err.empty()) {
    return err;
  }
  return api::LoadApiConfig(f->api_config, &o.merchant_config);
}

int ExitCode(app::RunOutcome::Kind kind) {
  switch (kind) {
    case app::RunOutcome::Kind::kStopped:
      return 0;
    case app::RunOutcome::Kind::kBadInput:
      return 2;
    case app::RunOutcome::Kind::kFailed:
    case app::RunOutcome::Kind::kRunFailed:
      return 1;
  }
  return 1;
}

}  // namespace

int RunRun(int argc, char** argv) {
  // From the very start: a stop during start-up still drains instead of dying.
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  RunFlags f;
  FlagSet flags("run", kSummary);
  AddKafkaFlags(flags, &f.run.kafka);
  AddProcessFlags(flags, &f);
  AddServerFlags(flags, &f);
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  f.run.tls_cert_file = f.tls.cert_file;
  f.run.tls_key_file = f.tls.key_file;
  std::string err = app::Validate(f.run);
  if (err.empty() && !f.api_config.empty() && !f.run.merchant_api) {
    err = "--api-config needs --merchant-api";
  }
  if (err.empty()) err = LoadFiles(&f);
  if (!err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  const app::RunOutcome outcome = app::Run(f.run, g_stop);
  // A failure of the running orchestrator is already logged.
  if (outcome.kind != app::RunOutcome::Kind::kStopped &&
      outcome.kind != app::RunOutcome::Kind::kRunFailed) {
    std::fprintf(stderr, "payorch run: %s\n", outcome.message.c_str());
  }
  return ExitCode(outcome.kind);
}

}  // namespace payorch::cli
