// payorch run: the orchestrator (single writers + connectors) on a Kafka log.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "command/plan_builder.h"
#include "config/config.h"
#include "connectors/registry.h"
#include "log/admin.h"
#include "log/embedded_broker.h"
#include "runtime/orchestrator.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }
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
  int threads = 8;
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
  flags.Int("connector-threads", &threads, "gateway calls in parallel");
  flags.Int("max-cached-payments", &max_cached, "payment states kept in memory per partition");
  flags.Bool("no-connectors", &no_connectors, "run only the writers");
  flags.Bool("no-writers", &no_writers, "run only the connectors");
  flags.String("assign", &assign,
               "own these partitions without a consumer group: \"all\" or \"0,2,5\" (fencing "
               "still keeps one counted writer per partition)");
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  if (std::string err = flags.Parse(argc, argv, 1); !err.empty()) {
    std::fprintf(stderr, "payorch run: %s\n", err.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  std::shared_ptr<spdlog::logger> logger;
  ::payments::config::v1::OrchestratorConfig config;
  for (const std::string& err :
       {SetUpLogger(log_level, &logger), LoadMerchantConfig(config_path, &config)}) {
    if (!err.empty()) {
      std::fprintf(stderr, "payorch run: %s\n", err.c_str());
      return 2;
    }
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
  if (writer_id.empty()) {
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    writer_id = std::string(host) + "-" + std::to_string(::getpid());
  }

  SystemClock clock;
  runtime::OrchestratorOptions oo;
  oo.kafka = kafka;
  oo.data_dir = data_dir + "/state";
  oo.writer_id = writer_id;
  oo.run_writers = !no_writers;
  oo.run_connectors = !no_connectors;
  oo.connector_threads = threads;
  oo.max_cached_payments = static_cast<size_t>(max_cached);
  oo.static_partitions = static_partitions;
  oo.plans = &plans;
  oo.gateways = &registry;
  oo.clock = &clock;
  oo.logger = logger;
  runtime::Orchestrator orchestrator(oo);
  logger->info("payorch run: writer {} on {}", writer_id, kafka.bootstrap_servers);
  std::string err = orchestrator.Run(g_stop);
  if (!err.empty()) {
    logger->error("payorch run: {}", err);
    return 1;
  }
  logger->info("payorch run: stopped");
  return 0;
}

}  // namespace payorch::cli
