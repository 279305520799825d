#include "cli/common.h"

#include <spdlog/spdlog.h>

#include "cli/kafka_flags.h"
#include "config/config.h"

namespace payorch::cli {

std::string SetUpLogger(const std::string& level, std::shared_ptr<spdlog::logger>* out) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return "--log-level: unknown level '" + level + "'";
  }
  auto logger = StderrLogger("payorch");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  *out = std::move(logger);
  return "";
}

std::string LoadMerchantConfig(const std::string& path,
                               ::payments::config::v1::OrchestratorConfig* out) {
  if (path.empty()) {
    *out = config::DefaultConfig();
    return "";
  }
  auto loaded = config::LoadConfigFile(path);
  if (!loaded.ok()) return loaded.error();
  *out = std::move(loaded).config();
  return "";
}

}  // namespace payorch::cli
