#include "app/internal/query_api.h"

#include <spdlog/spdlog.h>

#include "common/thread_name.h"
#include "connectors/success_rate.h"

namespace payorch::app::internal {

std::string QueryApi::Start(const QueryApiOptions& o) {
  projection::ServiceOptions so{.data_dir = o.dir, .runner = {}, .max_lag = o.max_lag};
  so.runner.kafka = o.kafka;
  so.runner.logger = o.logger;
  so.runner.on_progress = o.on_projection_progress;
  if (o.merchant_config != nullptr) {
    // The projection (whose batches the API's events follower observes) and the webhook
    // feeder read every event: they share one fetch. POSTs wait on the follower, so the
    // reader fetches on the hot path.
    auto reader = log::SharedReader::Open(o.kafka.HotPath(), "payorch.events",
                                          o.kafka.Topic(log::TopicKind::kEvents));
    if (!reader.ok()) return "events reader: " + reader.status().ToString();
    events_reader_ = std::move(reader).value();
    so.runner.shared = events_reader_.get();
  }
  service_ = std::make_unique<projection::ProjectionService>(so);
  if (std::string err = service_->Open(); !err.empty()) return err;
  logger_ = o.logger;
  if (o.merchant_config != nullptr) {
    api::MerchantApiOptions mo;
    mo.data_dir = o.merchant_dir;
    mo.kafka = o.kafka;
    mo.config = *o.merchant_config;
    mo.store = &service_->store();
    mo.runner = &service_->runner();
    mo.max_lag = o.max_lag;
    mo.overloaded = o.overloaded;
    mo.merchant_configured = o.merchant_configured;
    mo.find_merchant = o.find_merchant;
    mo.events_reader = events_reader_.get();
    if (connectors::SuccessRateRouter* router = o.router; router != nullptr) {
      mo.on_event = [router](const ::payments::events::v1::EventEnvelope& e) {
        router->Observe(e);
      };
      mo.stamp = [router](::payments::commands::v1::CommandEnvelope* c) { router->Stamp(c); };
    }
    merchant_ = std::make_unique<api::MerchantApi>(std::move(mo));
    if (std::string err = merchant_->Start(); !err.empty()) return "--merchant-api: " + err;
    if (Status s = events_reader_->Start(); !s.ok()) return "events reader: " + s.ToString();
    merchant_->Mount(server);
  } else {
    service_->Mount(server);
  }
  auto port = server.Start(o.address);
  if (!port) return "--http: " + port.error();
  if (o.announce) {
    o.announce(std::string(merchant_ ? "merchant" : "query") + " API at " + scheme_ + "://" +
               http::ParseAddress(o.address)->host + ":" + std::to_string(*port) + "/v1/");
  }
  thread_ = std::thread([this, logger = o.logger] {
    NameThisThread("po-projection");
    if (std::string err = service_->Run(stop_); !err.empty()) {
      logger->error("projection: {}", err);
      std::lock_guard lock(failure_mu_);
      failure_ = std::move(err);  // readiness fails from now on
    }
  });
  return "";
}

void QueryApi::Stop() {
  if (stopped_) return;
  stopped_ = true;
  server.Stop();
  if (merchant_) merchant_->Stop();
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (events_reader_) events_reader_->Stop();  // every subscriber has stopped polling
  if (service_) {
    if (std::string err = service_->Close(); !err.empty()) logger_->error("projection: {}", err);
  }
}

}  // namespace payorch::app::internal
