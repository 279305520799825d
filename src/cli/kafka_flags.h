// Flags shared by the subcommands that talk to a Kafka log: where the brokers are, -X
// librdkafka properties, topic naming. AddKafkaFlags() registers them; after parsing,
// ResolveKafkaOptions() turns them into ready KafkaOptions or a one-line error.
//
//   log::KafkaOptions kafka;
//   FlagSet flags("send", "Append commands to the commands topic.");
//   AddKafkaFlags(flags, &kafka);
//   if (auto err = flags.Parse(argc, argv, 1); !err.empty()) return Usage(err);
//   if (auto err = ResolveKafkaOptions(&kafka); !err.empty()) return Usage(err);
#pragma once

#include <memory>
#include <string>

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

// Moves -X arguments into options->properties and, when --brokers is empty, reads the
// bootstrap address from --bootstrap-file. Returns "" or a one-line error.
[[nodiscard]] std::string ResolveKafkaOptions(log::KafkaOptions* options);

// The first line of `path`, trimmed, into *bootstrap. Returns "" or a one-line error.
[[nodiscard]] std::string ReadBootstrapFile(const std::string& path, std::string* bootstrap);
// Writes `bootstrap` and a newline to `path` atomically (temporary file, then rename),
// so a reader never sees half an address. Returns "" or a one-line error.
[[nodiscard]] std::string WriteBootstrapFile(const std::string& path, const std::string& bootstrap);

// A logger named `name` writing to stderr.
std::shared_ptr<spdlog::logger> StderrLogger(const std::string& name);

}  // namespace payorch::cli
