// payorch gateway-sim: a simulated remote payment processor speaking docs/gateway-api.md.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "connectors/registry.h"
#include "connectors/webhooks.h"
#include "gatewaysim/simulator.h"
#include "http/server.h"
#include "log/options.h"
#include "log/producer.h"

namespace payorch::cli {

namespace {
std::atomic<bool> g_sim_stop{false};
void OnSimStop(int) { g_sim_stop = true; }
}  // namespace

namespace {

// The webhook endpoint of `payorch run --webhooks`: its server, and the producer its
// handlers append through (one at a time: a Producer is not thread-safe).
struct WebhookService {
  std::mutex mu;
  std::unique_ptr<log::Producer> producer;
  std::string topic;
  std::shared_ptr<connectors::WebhookReceiver> receiver;
  http::Server server{http::ServerOptions{.threads = 4, .name = "webhooks"}};
  ~WebhookService() { server.Stop(); }
};

}  // namespace

std::shared_ptr<void> StartWebhooks(const std::string& address, const std::string& secret_envs,
                                    const log::KafkaOptions& kafka, std::string* error) {
  connectors::WebhookOptions options;
  std::string_view rest = secret_envs;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    const std::string_view item = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? "" : rest.substr(semi + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      *error = "--webhook-secrets: '" + std::string(item) + "' is not processor=ENV_VAR";
      return nullptr;
    }
    const std::string env(item.substr(eq + 1));
    const char* secret = std::getenv(env.c_str());
    if (secret == nullptr || *secret == '\0') {
      *error = "--webhook-secrets: environment variable " + env + " is not set";
      return nullptr;
    }
    options.secrets[std::string(item.substr(0, eq))] = secret;
  }
  if (options.secrets.empty()) {
    *error = "--webhooks needs --webhook-secrets \"processor=ENV_VAR;...\"";
    return nullptr;
  }
  auto service = std::make_shared<WebhookService>();
  auto producer = log::Producer::Create(kafka);
  if (!producer.ok()) {
    *error = "webhook producer: " + producer.error().ToString();
    return nullptr;
  }
  service->producer = std::move(producer.value());
  service->topic = kafka.Topic(log::TopicKind::kCommands);
  WebhookService* raw = service.get();
  options.append = [raw](const ::payments::commands::v1::CommandEnvelope& c) -> std::string {
    std::lock_guard lock(raw->mu);
    log::OutRecord out{raw->topic, log::kAnyPartition, c.payment_id(), c.SerializeAsString(), {}};
    auto at = raw->producer->ProduceSync(out, 10'000);
    return at.ok() ? "" : at.error().ToString();
  };
  service->receiver = connectors::RegisterWebhookRoutes(service->server, std::move(options));
  auto port = service->server.Start(address);
  if (!port) {
    *error = "--webhooks: " + port.error();
    return nullptr;
  }
  std::printf("webhooks at http://%s:%d/v1/webhooks/{processor}\n",
              http::ParseAddress(address)->host.c_str(), *port);
  std::fflush(stdout);
  return service;
}

int RunGatewaySim(int argc, char** argv) {
  std::string listen = "127.0.0.1:8099";
  std::string processor = "stripe";
  std::string spec = "mock";
  std::string ledger;
  std::string token_env;
  std::string port_file;
  int64_t hang_ms = 0;
  // Workers run handlers only (idle kept-alive connections hold none, docs/http.md), but a
  // timed-out or lost answer holds its worker for --hang-ms: keep at least as many workers
  // as the callers' connections that may hang at once.
  int threads = 64;
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
  flags.Int("threads", &threads, "request threads (at least the callers' connections)");
  if (std::string err = flags.Parse(argc, argv, 1); !err.empty()) {
    std::fprintf(stderr, "payorch gateway-sim: %s\n", err.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!http::ParseAddress(listen)) {
    std::fprintf(stderr, "payorch gateway-sim: --listen: '%s' is not host:port\n", listen.c_str());
    return 2;
  }
  if (threads < 1 || threads > 256) {
    std::fprintf(stderr, "payorch gateway-sim: --threads must be in 1..256\n");
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
  http::Server server(http::ServerOptions{.threads = threads, .name = "gateway-sim"});
  sim.value()->RegisterRoutes(server);
  auto port = server.Start(listen);
  if (!port) {
    std::fprintf(stderr, "payorch gateway-sim: --listen: %s\n", port.error().c_str());
    return 1;
  }
  std::printf("gateway-sim %s at http://%s:%d\n", processor.c_str(),
              http::ParseAddress(listen)->host.c_str(), *port);
  std::fflush(stdout);
  if (!port_file.empty()) std::ofstream(port_file) << *port << "\n";
  while (!g_sim_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  return 0;
}

}  // namespace payorch::cli
