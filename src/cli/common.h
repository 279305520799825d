// Set-up shared by the subcommands that run the orchestrator.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>

#include "payments/config/v1/config.pb.h"

namespace spdlog {
class logger;
}
namespace payorch::connectors {
class GatewayRegistry;
}
namespace payorch::http {
struct ServerOptions;
}

namespace payorch::cli {

// A stderr logger named "payorch" at `level` ("trace" ... "error", "off"), made the
// default logger. `format` is "text" or "json" (JSON lines with payment_id, merchant_id,
// partition, epoch, ... where known); both redact card numbers (metrics/log_format.h).
// Returns "" or a one-line error naming the bad level or format.
[[nodiscard]] std::string SetUpLogger(const std::string& level,
                                      std::shared_ptr<spdlog::logger>* out,
                                      const std::string& format = "text");

// The built-in demo merchants when `path` is empty, else the file's. Returns "" or the
// loader's one-line error.
[[nodiscard]] std::string LoadMerchantConfig(const std::string& path,
                                             ::payments::config::v1::OrchestratorConfig* out);

// The first non-empty message of several set-up steps (all of them run), or "".
//   if (auto err = FirstError({SetUpLogger(...), LoadMerchantConfig(...)}); !err.empty()) ...
[[nodiscard]] std::string FirstError(std::initializer_list<std::string> errors);

// An empty scratch directory "payorch-<what>-<pid>" under the system temp directory.
[[nodiscard]] std::string FreshTempDir(const std::string& what);

// The processors of `spec` ("id=spec;...;*=spec"), simulated ones keeping their ledgers in
// `ledger_dir` (created), circuit breakers from `config`. Returns "" or a one-line error
// naming the bad spec or directory.
[[nodiscard]] std::string MakeGateways(const std::string& spec, const std::string& ledger_dir,
                                       const ::payments::config::v1::OrchestratorConfig& config,
                                       std::unique_ptr<connectors::GatewayRegistry>* out);

class FlagSet;

// --tls-cert and --tls-key of a command that serves HTTP: with both, its listeners named by
// `which` speak HTTPS (docs/http.md, TLS).
struct TlsFlags {
  std::string cert_file;
  std::string key_file;
};
void AddTlsFlags(FlagSet& flags, TlsFlags* f, const std::string& which);
// "" or a one-line error: one flag without the other, or files that do not load.
[[nodiscard]] std::string CheckTlsFlags(const TlsFlags& f);
// Sets `o`'s TLS files from the flags (none: plain HTTP).
void ApplyTls(const TlsFlags& f, http::ServerOptions* o);

}  // namespace payorch::cli
