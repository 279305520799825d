// payorch bench: an open-loop load generator and the broker-bound limit, in one run.
//
// 1. The pipeline: the orchestrator (writers + connectors on the mock gateway) and the
//    built-in upstream publishing a realistic mix at a fixed arrival rate (or as fast as
//    it goes); latency create -> final event from every payment (exact percentiles).
// 2. The broker alone: the same number of messages of the same mean size, produced and
//    consumed through the same broker and partition count, with the same client settings.
// 3. efficiency = payments/s x messages per payment / raw messages/s: the share of the
//    broker's own limit that the orchestrator turns into payments.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "command/plan_builder.h"
#include "config/config.h"
#include "connectors/registry.h"
#include "log/admin.h"
#include "log/consumer.h"
#include "log/embedded_broker.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "metrics/runtime_metrics.h"
#include "runtime/orchestrator.h"
#include "runtime/workload.h"

namespace payorch::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

struct TopicVolume {
  int64_t records = 0;
  int64_t bytes = 0;  // keys + values
};

// Reads every partition of `topic` to its end: record count and bytes.
std::string MeasureTopic(const log::KafkaOptions& kafka, const std::string& topic, int partitions,
                         TopicVolume* out) {
  for (int p = 0; p < partitions; ++p) {
    auto reader = log::PartitionReader::Open(kafka, topic, PartitionId{p}, log::kOffsetBeginning);
    if (!reader.ok()) return reader.status().ToString();
    auto end = reader.value()->ReadToEnd(
        [&](const log::Record& r) {
          ++out->records;
          out->bytes += static_cast<int64_t>(r.key.size() + r.value.size());
        },
        60'000);
    if (!end.ok()) return end.status().ToString();
  }
  return "";
}

struct RawResult {
  double seconds = 0;
  double messages_per_s = 0;
};

// Produces `count` records of `size` bytes with random keys to a fresh topic while one
// consumer reads them back; the time runs from the first produce to the last record read.
std::string MeasureRaw(const log::KafkaOptions& base, log::EmbeddedBroker* broker, int partitions,
                       int64_t count, int64_t size, RawResult* out) {
  log::KafkaOptions kafka = base;
  const std::string topic =
      "payorch.bench.raw." + std::to_string(::getpid()) + "." + std::to_string(std::rand());
  if (broker != nullptr) {
    if (auto st = broker->CreateTopic(topic, partitions); !st.ok()) return st.ToString();
  } else {
    auto admin = log::Admin::Create(kafka);
    if (!admin.ok()) return admin.status().ToString();
    if (auto st = admin.value()->CreateTopic(topic, partitions, kafka.replication_factor);
        !st.ok()) {
      return st.ToString();
    }
  }
  std::vector<PartitionId> all;
  all.reserve(static_cast<size_t>(partitions));
  for (int p = 0; p < partitions; ++p) all.push_back(PartitionId{p});
  log::StartAt listener;  // from the beginning
  auto consumer = log::Consumer::CreateAssigned(kafka, "payorch.bench.raw", topic, all, &listener);
  if (!consumer.ok()) return consumer.status().ToString();
  auto producer = log::Producer::Create(kafka);
  if (!producer.ok()) return producer.status().ToString();

  std::atomic<int64_t> consumed{0};
  std::string consume_error;
  const auto start = SteadyClock::now();
  std::thread reader([&] {
    std::vector<log::Record> batch;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(120);
    while (consumed.load() < count && SteadyClock::now() < deadline) {
      batch.clear();
      if (auto st = consumer.value()->PollBatch(1000, 100, &batch); !st.ok()) {
        consume_error = st.ToString();
        return;
      }
      consumed += static_cast<int64_t>(batch.size());
    }
  });
  std::mt19937_64 rng(42);
  std::string value(static_cast<size_t>(std::max<int64_t>(size - 16, 1)), 'x');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  std::string produce_error;
  for (int64_t i = 0; i < count; ++i) {
    log::OutRecord r{topic, log::kAnyPartition, "pay_" + std::to_string(rng()), value, {}};
    if (auto st = producer.value()->Produce(r); !st.ok()) {
      produce_error = st.ToString();
      break;
    }
    // Serves delivery callbacks only: a failure of the producer also fails the next
    // Produce() or the Flush() below, which report it.
    if (i % 256 == 0) producer.value()->Poll(0).IgnoreError();
  }
  if (auto st = producer.value()->Flush(60'000); !st.ok() && produce_error.empty()) {
    produce_error = st.ToString();
  }
  reader.join();
  out->seconds = SecondsSince(start);
  if (!produce_error.empty()) return "raw produce: " + produce_error;
  if (!consume_error.empty()) return "raw consume: " + consume_error;
  if (consumed.load() < count) {
    return "raw consume: read " + std::to_string(consumed.load()) + " of " + std::to_string(count) +
           " records in 120 s";
  }
  out->messages_per_s = static_cast<double>(count) / out->seconds;
  return "";
}

// Where a payment's time goes, hop by hop (bucket upper bounds: coarse, but they locate a
// tail; docs/performance.md).
void PrintHops(const metrics::RuntimeMetrics& m) {
  struct Hop {
    const char* name;
    const metrics::Histogram* h;
  };
  const Hop hops[] = {
      {"command appended -> decided", &m.command_to_decision},
      {"decided -> events acknowledged", &m.decision_to_published},
      {"*Started appended -> connector read", &m.event_to_connector},
      {"connector -> worker started (bulkhead)", &m.bulkhead_wait},
      {"gateway call", &m.gateway_call},
      {"answer -> acknowledged by the log", &m.result_to_ack},
      {"StepStarted decided -> answer appended", &m.step_to_answer},
      {"create appended -> final event", &m.create_to_final},
      {"connectors' poll gap", &m.connector_poll_gap},
  };
  std::printf("\nhops (ms, upper bound of the bucket holding the quantile)\n");
  std::printf("  %-40s %9s %7s %7s %7s %7s\n", "hop", "count", "p50", "p90", "p99", "p99.9");
  for (const Hop& hop : hops) {
    const metrics::Histogram::Snapshot s = hop.h->Read();
    std::printf(
        "  %-40s %9llu %7.1f %7.1f %7.1f %7.1f\n", hop.name,
        static_cast<unsigned long long>(s.count), metrics::Histogram::QuantileUpperMs(s, 0.5),
        metrics::Histogram::QuantileUpperMs(s, 0.9), metrics::Histogram::QuantileUpperMs(s, 0.99),
        metrics::Histogram::QuantileUpperMs(s, 0.999));
  }
}

}  // namespace

int RunBench(int argc, char** argv) {
  int64_t payments = 20'000;
  int rate = 0;
  int threads = 8;
  int64_t seed = 1;
  int64_t timeout_s = 300;
  bool skip_raw = false;
  std::string config_path;
  std::string gateways = "*=mock";
  std::string log_level = "warn";
  log::KafkaOptions kafka;
  FlagSet flags("bench",
                "Drives the orchestrator with an open-loop payment mix and reports latency\n"
                "(create -> final event) and throughput; then measures the same broker's raw\n"
                "produce+consume rate for as many messages of the same size and prints the\n"
                "efficiency. Without --brokers it starts the embedded broker.");
  flags.Int("payments", &payments, "number of payments", Bounds::AtLeast(1));
  flags.Int("rate", &rate, "arrival rate in payments/s (0 = as fast as the producer goes)",
            Bounds::AtLeast(0));
  flags.Int("connector-threads", &threads, "gateway calls in parallel", Bounds::AtLeast(1));
  flags.Int("seed", &seed, "seed of the payment mix");
  flags.Int("timeout", &timeout_s, "seconds to wait for every payment to settle");
  flags.Bool("skip-raw", &skip_raw, "skip the broker-alone measurement");
  flags.String("config", &config_path, "merchant configuration file (default: built-in demo)");
  flags.String("gateways", &gateways, "processors, \"id=spec;...;*=spec\"");
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  kafka.partitions = 8;  // bench's default; --partitions overrides it
  AddKafkaFlags(flags, &kafka);
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  const int partitions = kafka.partitions;
  std::shared_ptr<spdlog::logger> logger;
  ::payments::config::v1::OrchestratorConfig config;
  if (std::string err =
          FirstError({SetUpLogger(log_level, &logger), LoadMerchantConfig(config_path, &config)});
      !err.empty()) {
    std::fprintf(stderr, "payorch bench: %s\n", err.c_str());
    return 2;
  }
  command::PlanBuilder plans(config);
  const std::string data_dir = FreshTempDir("bench");
  std::unique_ptr<connectors::GatewayRegistry> registry;
  if (std::string e = MakeGateways(gateways, data_dir + "/ledgers", config, &registry);
      !e.empty()) {
    std::fprintf(stderr, "payorch bench: %s\n", e.c_str());
    return 2;
  }

  std::unique_ptr<log::EmbeddedBroker> broker;
  if (kafka.bootstrap_servers.empty() && kafka.bootstrap_file.empty()) {
    auto started = log::EmbeddedBroker::Start(1, logger);
    if (!started.ok()) {
      std::fprintf(stderr, "payorch bench: embedded broker: %s\n",
                   started.status().ToString().c_str());
      return 1;
    }
    broker = std::move(started).value();
    kafka.bootstrap_servers = broker->bootstrap();
  } else {
    if (std::string e = ResolveKafkaOptions(&kafka); !e.empty()) {
      std::fprintf(stderr, "payorch bench: %s\n", e.c_str());
      return 2;
    }
    // A fresh set of topics per run on a shared cluster.
    if (kafka.topic_prefix.empty()) kafka.topic_prefix = "bench" + std::to_string(::getpid()) + ".";
  }
  kafka.logger = logger;
  kafka.partitions = partitions;
  log::LogStatus topics = log::LogStatus::Ok();
  if (broker) {
    topics = broker->CreateTopics(kafka);
  } else if (auto admin = log::Admin::Create(kafka); !admin.ok()) {
    topics = admin.status();
  } else {
    topics = admin.value()->EnsureTopics(kafka);
  }
  if (!topics.ok()) {
    std::fprintf(stderr, "payorch bench: topics: %s\n", topics.ToString().c_str());
    return 1;
  }

  SystemClock clock;
  metrics::RuntimeMetrics hops;  // the per-hop trace printed after the run
  runtime::OrchestratorOptions oo;
  oo.metrics = &hops;
  oo.kafka = kafka;
  oo.data_dir = data_dir + "/state";
  oo.writer_id = "bench-" + std::to_string(::getpid());
  oo.connector_threads = threads;
  oo.plans = &plans;
  oo.gateways = registry.get();
  oo.clock = &clock;
  oo.logger = logger;
  runtime::Orchestrator orchestrator(oo);
  std::atomic<bool> stop{false};
  std::string run_error;
  std::thread runner([&] { run_error = orchestrator.Run(stop); });

  runtime::WorkloadOptions wo;
  wo.payments = static_cast<int>(payments);
  wo.seed = static_cast<uint64_t>(seed);
  wo.rate = rate;
  wo.include_bad_input = false;
  runtime::Workload workload(kafka, wo);
  int rc = 0;
  std::string err = workload.Start();
  const auto ready_by = SteadyClock::now() + std::chrono::seconds(30);
  while (err.empty() && SteadyClock::now() < ready_by &&
         (orchestrator.probe().partitions.load() < partitions ||
          orchestrator.probe().connectors.partitions.load() < partitions || !workload.ready())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf(
      "bench: %lld payments, %s, %d partitions, broker %s\n", static_cast<long long>(payments),
      rate > 0 ? (std::to_string(rate) + " payments/s open loop").c_str() : "as fast as possible",
      partitions, broker ? "embedded" : kafka.bootstrap_servers.c_str());
  std::fflush(stdout);
  if (err.empty()) err = workload.PublishAll();
  bool settled = err.empty() && workload.WaitSettled(static_cast<int>(timeout_s * 1000));
  workload.Stop();
  stop = true;
  runner.join();
  if (!err.empty() || !run_error.empty()) {
    std::fprintf(stderr, "payorch bench: %s\n", (err.empty() ? run_error : err).c_str());
    return 1;
  }
  const runtime::WorkloadSummary s = workload.Summary();
  const double tput = s.seconds > 0 ? static_cast<double>(s.payments - s.unsettled) / s.seconds : 0;
  std::printf("\npipeline (create -> final event, %lld payments, %lld unsettled)\n",
              static_cast<long long>(s.payments), static_cast<long long>(s.unsettled));
  std::printf("  latency ms   p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", s.p50_ms,
              s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms);
  std::printf("  throughput   %.0f payments/s over %.2f s\n\n%s", tput, s.seconds,
              runtime::FormatFlows(s).c_str());
  PrintHops(hops);

  TopicVolume commands, events;
  if (std::string e =
          MeasureTopic(kafka, kafka.Topic(log::TopicKind::kCommands), partitions, &commands);
      !e.empty() ||
      !(e = MeasureTopic(kafka, kafka.Topic(log::TopicKind::kEvents), partitions, &events))
           .empty()) {
    std::fprintf(stderr, "payorch bench: reading the topics: %s\n", e.c_str());
    return 1;
  }
  const int64_t messages = commands.records + events.records;
  const double per_payment = static_cast<double>(messages) / static_cast<double>(s.payments);
  const int64_t mean_size = messages > 0 ? (commands.bytes + events.bytes) / messages : 0;
  std::printf("  messages     %lld commands + %lld events = %.1f per payment, mean %lld bytes\n",
              static_cast<long long>(commands.records), static_cast<long long>(events.records),
              per_payment, static_cast<long long>(mean_size));
  if (!settled) rc = 1;

  if (!skip_raw) {
    RawResult raw;
    if (std::string e = MeasureRaw(kafka, broker.get(), partitions, messages, mean_size, &raw);
        !e.empty()) {
      std::fprintf(stderr, "payorch bench: %s\n", e.c_str());
      return 1;
    }
    std::printf("\nbroker alone (%lld messages of %lld bytes, produce + consume)\n",
                static_cast<long long>(messages), static_cast<long long>(mean_size));
    std::printf("  throughput   %.0f messages/s over %.2f s\n", raw.messages_per_s, raw.seconds);
    const double efficiency = tput * per_payment / raw.messages_per_s;
    std::printf("\nefficiency = %.0f payments/s x %.1f messages/payment / %.0f messages/s = %.2f\n",
                tput, per_payment, raw.messages_per_s, efficiency);
  }
  std::filesystem::remove_all(data_dir);
  return rc;
}

}  // namespace payorch::cli
