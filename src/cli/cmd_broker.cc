// payorch broker: an embedded Kafka-protocol broker (librdkafka's mock cluster) with the
// payorch topics, serving until SIGINT or SIGTERM. Its log is in memory: it lives as long
// as this process.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "log/embedded_broker.h"

namespace payorch::cli {

int RunBroker(int argc, char** argv) {
  log::KafkaOptions topics;
  int brokers_count = 1;
  std::string bootstrap_file;
  FlagSet flags("broker",
                "Run an embedded Kafka-protocol broker (librdkafka's mock cluster) with the "
                "payorch topics until SIGINT/SIGTERM.\nPrints 'bootstrap: HOST:PORT[,...]' on "
                "stdout. The log is in memory and ends with the process.");
  flags.Int("partitions", &topics.partitions, "partitions of each payorch topic",
            Bounds::AtLeast(1));
  flags.Int("brokers-count", &brokers_count, "number of brokers in the cluster",
            Bounds::AtLeast(1));
  flags.String("bootstrap-file", &bootstrap_file,
               "also write the bootstrap address to this file (removed on exit)");
  flags.String("topic-prefix", &topics.topic_prefix, "prefix of every payorch topic name");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;

  // Block the stop signals before librdkafka starts its threads (they inherit the mask),
  // then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto logger = StderrLogger("broker");
  auto broker = log::EmbeddedBroker::Start(brokers_count, logger);
  if (!broker.ok()) {
    std::fprintf(stderr, "payorch broker: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  topics.replication_factor = brokers_count >= 3 ? 3 : brokers_count;
  if (log::LogStatus s = broker.value()->CreateTopics(topics); !s.ok()) {
    std::fprintf(stderr, "payorch broker: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string& bootstrap = broker.value()->bootstrap();
  if (!bootstrap_file.empty()) {
    if (std::string err = WriteBootstrapFile(bootstrap_file, bootstrap); !err.empty()) {
      std::fprintf(stderr, "payorch broker: %s\n", err.c_str());
      return 1;
    }
  }
  std::printf("bootstrap: %s\n", bootstrap.c_str());
  std::fflush(stdout);
  std::string names;
  for (const std::string& t : topics.AllTopics()) names += (names.empty() ? "" : ", ") + t;
  logger->info("topics {} ({} partitions each); stop with SIGINT or SIGTERM", names,
               topics.partitions);

  int sig = 0;
  sigwait(&stop, &sig);
  logger->info("stopping on signal {}", sig);
  if (!bootstrap_file.empty()) std::remove(bootstrap_file.c_str());
  return 0;
}

}  // namespace payorch::cli
