// ProjectionService: a projection store, the runner that keeps it up to date, and the
// query routes over it, as one object for `payorch serve` and `payorch run --http`.
//
//   ProjectionService service({.data_dir = dir, .runner = {.kafka = kafka}});
//   if (auto err = service.Open(); !err.empty()) ...
//   http::Server server;
//   service.Mount(server);                 // RegisterQueryRoutes with the runner's lag
//   (void)server.Start("127.0.0.1:8080");
//   std::string err = service.Run(stop);   // follows the log until stop
//   server.Stop();                         // no request reads the store after this
//   if (std::string e = service.Close(); err.empty()) err = e;
#pragma once

#include <atomic>
#include <string>

#include "http/server.h"
#include "projection/query.h"
#include "projection/runner.h"
#include "projection/store.h"

namespace payorch::projection {

struct ServiceOptions {
  std::string data_dir;
  RunnerOptions runner;
  int64_t max_lag = 10'000;
};

class ProjectionService {
 public:
  explicit ProjectionService(ServiceOptions options);
  ~ProjectionService();

  // Opens the store and the runner. "" or a one-line error.
  [[nodiscard]] std::string Open();
  // Mounts the query routes (lag from the runner).
  void Mount(http::Server& server);
  // Follows the log until stop. "" or the error that stopped it. The store stays open:
  // the query routes may still read it until their server has stopped.
  [[nodiscard]] std::string Run(const std::atomic<bool>& stop);
  // Closes the store; call it once no server that Mount()ed the routes is serving.
  [[nodiscard]] std::string Close();

  ProjectionStore& store() { return store_; }
  ProjectionRunner& runner() { return *runner_; }

 private:
  ServiceOptions options_;
  ProjectionStore store_;
  std::unique_ptr<ProjectionRunner> runner_;
};

}  // namespace payorch::projection
