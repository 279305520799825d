// Kafka options as flags leave them, made ready for the log adapter: -X key=value
// arguments split into properties, bounds checked, the bootstrap address read from a file
// written by `payorch broker --bootstrap-file` when none is given. Pure functions of
// log::KafkaOptions and the file system; every error is one line naming the flag.
#pragma once

#include <string>

#include "log/options.h"

namespace payorch::app {

// Moves -X arguments into options->properties and, when --brokers is empty, reads the
// bootstrap address from --bootstrap-file. Returns "" or a one-line error.
[[nodiscard]] std::string ResolveKafkaOptions(log::KafkaOptions* options);

// The first line of `path`, trimmed, into *bootstrap. Returns "" or a one-line error.
[[nodiscard]] std::string ReadBootstrapFile(const std::string& path, std::string* bootstrap);
// Writes `bootstrap` and a newline to `path` atomically (temporary file, then rename),
// so a reader never sees half an address. Returns "" or a one-line error.
[[nodiscard]] std::string WriteBootstrapFile(const std::string& path, const std::string& bootstrap);

}  // namespace payorch::app
