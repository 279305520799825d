// Flags shared by the subcommands that talk to a Kafka log: where the brokers are, -X
// librdkafka properties, topic naming. AddKafkaFlags() registers them; after parsing,
// ResolveKafkaOptions() turns them into ready KafkaOptions or a one-line error.
//
//   log::KafkaOptions kafka;
//   FlagSet flags("send", "Append commands to the commands topic.");
//   AddKafkaFlags(flags, &kafka);
//   if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
//   if (auto err = ResolveKafkaOptions(&kafka); !err.empty()) return Usage(err);
#pragma once

#include <memory>
#include <string>

#include "app/kafka_options.h"
#include "cli/flags.h"
#include "log/options.h"

namespace spdlog {
class logger;
}

namespace payorch::cli {

// --brokers, --bootstrap-file, -X key=value (repeatable), --topic-prefix, --partitions,
// --replication-factor, --instance-id (static group membership).
// Also points options->logger at stderr, so that stdout carries only command output.
void AddKafkaFlags(FlagSet& flags, log::KafkaOptions* options);

// ResolveKafkaOptions, ReadBootstrapFile, WriteBootstrapFile: app/kafka_options.h.
using app::ReadBootstrapFile;
using app::ResolveKafkaOptions;
using app::WriteBootstrapFile;

// A logger named `name` writing to stderr.
std::shared_ptr<spdlog::logger> StderrLogger(const std::string& name);

}  // namespace payorch::cli
