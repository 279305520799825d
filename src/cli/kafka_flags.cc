#include "cli/kafka_flags.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace payorch::cli {

namespace {

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

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
            "partitions of the payorch topics when they are created");
  flags.Int("replication-factor", &options->replication_factor,
            "replication factor of the payorch topics when they are created");
  flags.String("instance-id", &options->group_instance_id,
               "static consumer-group membership under this name, unique per instance and "
               "stable across its restarts: a restart within the session timeout keeps its "
               "partitions without a rebalance, but a crashed instance's partitions move only "
               "after the session timeout (docs/kafka.md#failover)");
}

std::string ResolveKafkaOptions(log::KafkaOptions* options) {
  for (const std::string& arg : options->property_args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) return "-X '" + arg + "': expected key=value";
    options->properties.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
  }
  options->property_args.clear();
  if (options->replication_factor < 1) {
    return "--replication-factor: must be at least 1, not " +
           std::to_string(options->replication_factor);
  }
  if (options->partitions < 1) {
    return "--partitions: must be at least 1, not " + std::to_string(options->partitions);
  }
  if (options->bootstrap_servers.empty()) {
    if (options->bootstrap_file.empty()) {
      return "no broker given: use --brokers host:port or --bootstrap-file FILE (written by "
             "`payorch broker --bootstrap-file FILE`)";
    }
    if (std::string err = ReadBootstrapFile(options->bootstrap_file, &options->bootstrap_servers);
        !err.empty()) {
      return err;
    }
  }
  return "";
}

std::string ReadBootstrapFile(const std::string& path, std::string* bootstrap) {
  std::ifstream in(path);
  if (!in) return "--bootstrap-file " + path + ": cannot read it (" + std::strerror(errno) + ")";
  std::string line;
  std::getline(in, line);
  line = Trim(line);
  if (line.empty()) return "--bootstrap-file " + path + ": no address in it";
  *bootstrap = line;
  return "";
}

std::string WriteBootstrapFile(const std::string& path, const std::string& bootstrap) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return "--bootstrap-file " + path + ": cannot write it (" + std::strerror(errno) + ")";
    out << bootstrap << "\n";
    out.flush();
    if (!out) return "--bootstrap-file " + path + ": write failed";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return "--bootstrap-file " + path + ": cannot rename into place (" + std::strerror(errno) + ")";
  }
  return "";
}

}  // namespace payorch::cli
