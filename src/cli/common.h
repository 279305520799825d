// Set-up shared by the subcommands that run the orchestrator.
#pragma once

#include <memory>
#include <string>

#include "payments/config/v1/config.pb.h"

namespace spdlog {
class logger;
}

namespace payorch::cli {

// A stderr logger named "payorch" at `level` ("trace" ... "error", "off"), made the
// default logger. Returns "" or a one-line error naming the bad level.
[[nodiscard]] std::string SetUpLogger(const std::string& level,
                                      std::shared_ptr<spdlog::logger>* out);

// The built-in demo merchants when `path` is empty, else the file's. Returns "" or the
// loader's one-line error.
[[nodiscard]] std::string LoadMerchantConfig(const std::string& path,
                                             ::payments::config::v1::OrchestratorConfig* out);

}  // namespace payorch::cli
