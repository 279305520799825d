// payorch gateway-sim: a simulated remote payment processor speaking docs/gateway-api.md.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "connectors/registry.h"
#include "gatewaysim/simulator.h"
#include "http/server.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_sim_stop{false};
void OnSimStop(int) { g_sim_stop = true; }
}  // namespace

int RunGatewaySim(int argc, char** argv) {
  std::string listen = "127.0.0.1:8099";
  std::string processor = "stripe";
  std::string spec = "mock";
  std::string ledger;
  std::string token_env;
  std::string port_file;
  int64_t hang_ms = 0;
  // Workers run handlers only (idle kept-alive connections hold none, docs/http.md), and a
  // held answer (--hang-ms, the spec's latency_ms) waits on a timer, not on a worker.
  int threads = 4;
  FlagSet flags("gateway-sim",
                "Serves a simulated payment processor over HTTP (API: docs/gateway-api.md):\n"
                "real idempotency by key and body, seeded declines / timeouts / 5xx / lost\n"
                "answers, and GET /v1/audit listing every charge.");
  flags.String("listen", &listen, "host:port to serve on (port 0: a free port, printed)");
  flags.String("processor", &processor, "processor id recorded in the ledger");
  flags.String("spec", &spec,
               "behaviour, as a simulated gateway spec: \"mock\" or \"flaky:seed=7,decline=0.1,"
               "timeout=0.05,lost=0.02,network=0.02,unavailable=0.05,latency_ms=5\"");
  flags.String("ledger", &ledger, "ledger file: idempotency memory survives restarts");
  flags.Int("hang-ms", &hang_ms, "how long timed-out and lost answers are held before a 504");
  flags.String("token-env", &token_env, "require Authorization: Bearer $VAR");
  flags.String("port-file", &port_file, "write the bound port to this file");
  flags.Int("threads", &threads, "HTTP worker threads (a held answer holds none)", Bounds{1, 256});
  TlsFlags tls;
  AddTlsFlags(flags, &tls, "the simulator");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  if (std::string err = CheckTlsFlags(tls); !err.empty()) {
    std::fprintf(stderr, "payorch gateway-sim: %s\n", err.c_str());
    return 2;
  }
  if (!http::ParseAddress(listen)) {
    std::fprintf(stderr, "payorch gateway-sim: --listen: '%s' is not host:port\n", listen.c_str());
    return 2;
  }
  auto engine = connectors::ParseGatewaySpec(spec);
  if (!engine.ok()) {
    std::fprintf(stderr, "payorch gateway-sim: --spec: %s\n", engine.status().message().c_str());
    return 2;
  }
  gatewaysim::GatewaySimulatorOptions options;
  options.engine = std::move(engine.value());
  options.engine.processor_id = processor;
  options.engine.ledger_path = ledger;
  options.hang_ms = hang_ms;
  if (!token_env.empty()) {
    const char* token = std::getenv(token_env.c_str());
    if (token == nullptr || *token == '\0') {
      std::fprintf(stderr, "payorch gateway-sim: --token-env: %s is not set\n", token_env.c_str());
      return 2;
    }
    options.token = token;
  }
  auto sim = gatewaysim::GatewaySimulator::Open(std::move(options));
  if (!sim.ok()) {
    std::fprintf(stderr, "payorch gateway-sim: %s\n", sim.status().message().c_str());
    return 2;
  }
  std::signal(SIGINT, OnSimStop);
  std::signal(SIGTERM, OnSimStop);
  http::ServerOptions server_options{.threads = threads, .name = "gateway-sim"};
  ApplyTls(tls, &server_options);
  http::Server server(server_options);
  sim.value()->RegisterRoutes(server);
  auto port = server.Start(listen);
  if (!port) {
    std::fprintf(stderr, "payorch gateway-sim: --listen: %s\n", port.error().c_str());
    return 1;
  }
  std::printf("gateway-sim %s at %s://%s:%d\n", processor.c_str(),
              std::string(http::Scheme(server_options)).c_str(),
              http::ParseAddress(listen)->host.c_str(), *port);
  std::fflush(stdout);
  if (!port_file.empty()) std::ofstream(port_file) << *port << "\n";
  while (!g_sim_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  return 0;
}

}  // namespace payorch::cli
