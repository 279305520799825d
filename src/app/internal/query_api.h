// `payorch run --http`: the query API (src/projection/query.h) over a projection store in
// DATA_DIR/projection, kept up to date on its own thread alongside the orchestrator. With
// --merchant-api it serves the merchant API (src/api/) instead of the query routes, which
// would show every merchant's payments without a key. Not thread-safe: Start and Stop
// from one thread; `server` may take other routes until Start().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/merchant_api.h"
#include "http/server.h"
#include "log/options.h"
#include "projection/runner.h"
#include "projection/service.h"

namespace spdlog {
class logger;
}
namespace payorch::connectors {
class SuccessRateRouter;
}

namespace payorch::app::internal {

struct QueryApiOptions {
  std::string address;  // host:port
  std::string dir;      // the projection store
  log::KafkaOptions kafka;
  int64_t max_lag = 10'000;
  std::shared_ptr<spdlog::logger> logger;
  const api::ApiConfig* merchant_config = nullptr;  // set: the merchant API
  std::string merchant_dir;                         // its keys, responses, webhooks
  connectors::SuccessRateRouter* router = nullptr;  // observes events, stamps creates
  std::function<bool()> overloaded;                 // new payments refused while true
  // Whether the merchant configuration has a merchant: the admin API creates keys only
  // for those (null: none).
  std::function<bool(const std::string& merchant)> merchant_configured;
  std::function<const ::payments::config::v1::MerchantConfig*(const std::string& merchant)>
      find_merchant;
  // Called with "merchant API at http://..." or "query API at http://..." once serving.
  std::function<void(const std::string&)> announce;
  // The projection's progress (projection::RunnerOptions::on_progress), e.g. for /metrics.
  std::function<void(const projection::ProjectorStats&,
                     const std::vector<projection::PartitionPosition>&)>
      on_projection_progress;
};

class QueryApi {
 public:
  explicit QueryApi(http::ServerOptions options)
      : scheme_(http::Scheme(options)), server(std::move(options)) {}
  ~QueryApi() { Stop(); }

  // Opens the store, mounts the routes, starts serving and projecting. "" or an error.
  [[nodiscard]] std::string Start(const QueryApiOptions& options);
  // The server first, the store last: no request reads the store after it closes. Once;
  // later calls do nothing.
  void Stop();

  // Records the projection is behind the events log. Only after a successful Start().
  int64_t lag() { return service_->runner().lag(); }
  // Why the projection stopped on its own (an error: it projects no more, its lag no longer
  // moves), "" while it runs.
  std::string failure() const {
    std::lock_guard lock(failure_mu_);
    return failure_;
  }

 private:
  std::string scheme_;  // "http" or "https", for the address announced
  mutable std::mutex failure_mu_;
  std::string failure_;

 public:
  http::Server server;

 private:
  // With the merchant API: one reader of the events topic for the projection (and so the
  // API's events follower, which observes it) and the webhook feeder (log/shared_reader.h).
  std::unique_ptr<log::SharedReader> events_reader_;
  std::unique_ptr<projection::ProjectionService> service_;
  std::unique_ptr<api::MerchantApi> merchant_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::thread thread_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace payorch::app::internal
