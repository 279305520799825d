#include "app/internal/webhooks.h"

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string_view>

#include "connectors/webhooks.h"
#include "http/server.h"
#include "log/appender.h"

namespace payorch::app::internal {

namespace {

// The webhook endpoint of `payorch run --webhooks`: its server, and the appender its
// handlers append through (no handler waits for the log: the answer is sent when the log
// acknowledges the command, or 503 at kAppendDeadline).
constexpr std::chrono::milliseconds kAppendDeadline{10'000};
struct WebhookService {
  WebhookService(http::ServerOptions options, const log::KafkaOptions& kafka)
      : appender(kafka, "po-wh-append"), server(std::move(options)) {}
  log::Appender appender;  // outlives the server: Stop() waits for the answers it gives
  std::string topic;
  std::shared_ptr<connectors::WebhookReceiver> receiver;
  http::Server server;
  ~WebhookService() { server.Stop(); }
};

}  // namespace

std::string ReadWebhookSecrets(const std::string& secret_envs,
                               std::map<std::string, std::string>* secrets) {
  std::string_view rest = secret_envs;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    const std::string_view item = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? "" : rest.substr(semi + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return "--webhook-secrets: '" + std::string(item) + "' is not processor=ENV_VAR";
    }
    const std::string env(item.substr(eq + 1));
    const char* secret = std::getenv(env.c_str());
    if (secret == nullptr || *secret == '\0') {
      return "--webhook-secrets: environment variable " + env + " is not set";
    }
    (*secrets)[std::string(item.substr(0, eq))] = secret;
  }
  if (secrets->empty()) return "--webhooks needs --webhook-secrets \"processor=ENV_VAR;...\"";
  return "";
}

std::shared_ptr<void> StartWebhooks(const std::string& address, const std::string& secret_envs,
                                    const log::KafkaOptions& kafka,
                                    const std::function<void(const std::string&)>& announce,
                                    http::ServerOptions server_options, std::string* error) {
  connectors::WebhookOptions options;
  if (std::string err = ReadWebhookSecrets(secret_envs, &options.secrets); !err.empty()) {
    *error = err;
    return nullptr;
  }
  const std::string scheme(http::Scheme(server_options));
  auto service = std::make_shared<WebhookService>(std::move(server_options), kafka);
  if (std::string err = service->appender.Start(); !err.empty()) {
    *error = "webhook appender: " + err;
    return nullptr;
  }
  service->topic = kafka.Topic(log::TopicKind::kCommands);
  WebhookService* raw = service.get();
  options.append = [raw](const ::payments::commands::v1::CommandEnvelope& c,
                         std::function<void(const std::string&)> done) {
    // Whichever comes first answers: the log's acknowledgement or the deadline (the
    // command may then still be written: its command id de-duplicates the retry).
    // The first call takes `done` (and the connection it answers) out of the shared
    // state, so the deadline's timer holds nothing of it once answered.
    struct Once {
      std::mutex mu;
      std::function<void(const std::string&)> done;
    };
    auto once = std::make_shared<Once>();
    once->done = std::move(done);
    auto finish = [once](const std::string& error) {
      std::function<void(const std::string&)> first;
      {
        std::lock_guard lock(once->mu);
        first.swap(once->done);
      }
      if (first) first(error);
    };
    raw->server.After(kAppendDeadline,
                      [finish] { finish("the log did not acknowledge the command within 10 s"); });
    raw->appender.AppendAsync(
        log::OutRecord{raw->topic, log::kAnyPartition, c.payment_id(), c.SerializeAsString(), {}},
        finish);
  };
  service->receiver = connectors::RegisterWebhookRoutes(service->server, std::move(options));
  auto port = service->server.Start(address);
  if (!port) {
    *error = "--webhooks: " + port.error();
    return nullptr;
  }
  if (announce) {
    announce("webhooks at " + scheme + "://" + http::ParseAddress(address)->host + ":" +
             std::to_string(*port) + "/v1/webhooks/{processor}");
  }
  return service;
}

}  // namespace payorch::app::internal
