#include "cli/common.h"

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "config/config.h"
#include "connectors/registry.h"
#include "http/server.h"
#include "metrics/log_format.h"

namespace payorch::cli {

std::string SetUpLogger(const std::string& level, std::shared_ptr<spdlog::logger>* out,
                        const std::string& format) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return "--log-level: unknown level '" + level + "'";
  }
  metrics::LogFormat log_format = metrics::LogFormat::kText;
  if (!metrics::ParseLogFormat(format, &log_format)) {
    return "--log-format: unknown format '" + format + "' (text or json)";
  }
  auto logger = StderrLogger("payorch");
  logger->set_level(parsed);
  logger->set_formatter(metrics::MakeLogFormatter(log_format));
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

std::string FirstError(std::initializer_list<std::string> errors) {
  for (const std::string& err : errors) {
    if (!err.empty()) return err;
  }
  return "";
}

std::string FreshTempDir(const std::string& what) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("payorch-" + what + "-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return dir.string();
}

std::string MakeGateways(const std::string& spec, const std::string& ledger_dir,
                         const ::payments::config::v1::OrchestratorConfig& config,
                         std::unique_ptr<connectors::GatewayRegistry>* out) {
  std::error_code ec;
  std::filesystem::create_directories(ledger_dir, ec);
  if (ec) return "cannot create " + ledger_dir + ": " + ec.message();
  connectors::GatewayRegistryOptions options;
  options.ledger_dir = ledger_dir;
  auto registry = std::make_unique<connectors::GatewayRegistry>(options);
  if (auto st = registry->ConfigureAll(spec); !st.ok()) return "--gateways: " + st.message();
  registry->breakers().Configure(config);
  *out = std::move(registry);
  return "";
}

void AddTlsFlags(FlagSet& flags, TlsFlags* f, const std::string& which) {
  flags.String("tls-cert", &f->cert_file,
               "PEM certificate chain: serve " + which + " over HTTPS (TLS 1.2+; with --tls-key)");
  flags.String("tls-key", &f->key_file, "PEM private key of --tls-cert");
}

std::string CheckTlsFlags(const TlsFlags& f) { return http::CheckTls(f.cert_file, f.key_file); }

void ApplyTls(const TlsFlags& f, http::ServerOptions* o) {
  o->tls_cert_file = f.cert_file;
  o->tls_key_file = f.key_file;
}

}  // namespace payorch::cli
