#include "cli/kafka_flags.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace payorch::cli {

std::shared_ptr<spdlog::logger> StderrLogger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(
      name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(spdlog::level::info);
  return logger;
}

void AddKafkaFlags(FlagSet& flags, log::KafkaOptions* options) {
  if (!options->logger) options->logger = StderrLogger("log");
  flags.String("brokers", &options->bootstrap_servers,
               "Kafka bootstrap servers, host:port[,host:port...]");
  flags.String("bootstrap-file", &options->bootstrap_file,
               "read the bootstrap address from this file (as written by `payorch broker "
               "--bootstrap-file`); used when --brokers is not given");
  flags.Repeated("X", &options->property_args,
                 "librdkafka property for every client, e.g. -X fetch.wait.max.ms=100 "
                 "(repeatable; overrides payorch's defaults)");
  flags.String("topic-prefix", &options->topic_prefix, "prefix of every payorch topic name");
  flags.Int("partitions", &options->partitions,
            "partitions of the payorch topics when they are created", Bounds::AtLeast(1));
  flags.Int("replication-factor", &options->replication_factor,
            "replication factor of the payorch topics when they are created", Bounds::AtLeast(1));
  flags.String("instance-id", &options->group_instance_id,
               "static consumer-group membership under this name, unique per instance and "
               "stable across its restarts: a restart within the session timeout keeps its "
               "partitions without a rebalance, but a crashed instance's partitions move only "
               "after the session timeout (docs/kafka.md#failover)");
}

}  // namespace payorch::cli
