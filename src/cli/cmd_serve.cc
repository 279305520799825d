// payorch serve: keeps the projection store (read models) up to date from the events log
// and serves the query API over HTTP.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "http/server.h"
#include "projection/service.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_stop{false};
void OnStopSignal(int) { g_stop = true; }

// "psp_a=30,psp_b=25" -> fee basis points per processor. "" or a one-line error.
std::string ParseFees(const std::string& text, std::map<std::string, int64_t>* out) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = item.find('=');
    char* end = nullptr;
    const long long bps =
        eq == std::string::npos ? -1 : std::strtoll(item.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || end == nullptr || *end != '\0' || bps < 0 ||
        bps > 10'000) {
      return "--fees: '" + item + "' is not processor=basis_points (0..10000)";
    }
    (*out)[item.substr(0, eq)] = bps;
  }
  return "";
}

}  // namespace

int RunServe(int argc, char** argv) {
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  log::KafkaOptions kafka;
  std::string data_dir = "data/projection";
  std::string http_addr = "127.0.0.1:8080";
  std::string http_file;
  std::string fees;
  std::string log_level = "info";
  int64_t max_lag = 10'000;
  TlsFlags tls;
  FlagSet flags("serve",
                "Keeps the read models (payment view, merchant index, idempotency records,\n"
                "daily totals) in a RocksDB store up to date from the events topic, and serves\n"
                "the query API (docs/projection.md).");
  AddKafkaFlags(flags, &kafka);
  flags.String("data", &data_dir, "projection store directory (rebuildable from the log)");
  flags.String("http", &http_addr, "listen address host:port (port 0 = any free port)");
  flags.String("http-file", &http_file, "write the bound address host:port to this file");
  flags.Int("max-lag", &max_lag,
            "answer 503 while the projection is more than this many records behind (-1: never)");
  flags.String("fees", &fees, "processor fees for daily totals: \"psp_a=30,psp_b=25\" (bps)");
  flags.String("log-level", &log_level, "trace, debug, info, warn, error");
  AddTlsFlags(flags, &tls, "the query API");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  projection::ServiceOptions so;
  std::shared_ptr<spdlog::logger> logger;
  if (std::string err =
          FirstError({SetUpLogger(log_level, &logger), ResolveKafkaOptions(&kafka),
                      ParseFees(fees, &so.runner.projector.fee_bps), CheckTlsFlags(tls)});
      !err.empty()) {
    std::fprintf(stderr, "payorch serve: %s\n", err.c_str());
    return 2;
  }
  if (!http::ParseAddress(http_addr)) {
    std::fprintf(stderr, "payorch serve: --http: '%s' is not host:port\n", http_addr.c_str());
    return 2;
  }
  kafka.logger = logger;
  so.data_dir = data_dir;
  so.runner.kafka = kafka;
  so.runner.logger = logger;
  so.max_lag = max_lag;
  projection::ProjectionService service(so);
  if (std::string err = service.Open(); !err.empty()) {
    std::fprintf(stderr, "payorch serve: %s\n", err.c_str());
    return 1;
  }
  http::ServerOptions server_options;
  ApplyTls(tls, &server_options);
  http::Server server(server_options);
  service.Mount(server);
  http::Result<int> port = server.Start(http_addr);
  if (!port) {
    std::fprintf(stderr, "payorch serve: --http: %s\n", port.error().c_str());
    return 1;
  }
  const std::string bound = http::ParseAddress(http_addr)->host + ":" + std::to_string(*port);
  std::printf("http: %s\n", bound.c_str());
  std::fflush(stdout);
  if (!http_file.empty()) {
    if (std::string err = WriteBootstrapFile(http_file, bound); !err.empty()) {
      std::fprintf(stderr, "payorch serve: %s\n", err.c_str());
      return 1;
    }
  }
  std::string err = service.Run(g_stop);
  server.Stop();  // before the store closes: a request in flight still reads it
  if (std::string close_err = service.Close(); err.empty()) err = close_err;
  if (!err.empty()) {
    logger->error("payorch serve: {}", err);
    return 1;
  }
  return 0;
}

}  // namespace payorch::cli
