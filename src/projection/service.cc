#include "projection/service.h"

#include <filesystem>

namespace payorch::projection {

ProjectionService::ProjectionService(ServiceOptions options) : options_(std::move(options)) {}

ProjectionService::~ProjectionService() = default;

std::string ProjectionService::Open() {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return "cannot create " + options_.data_dir + ": " + ec.message();
  if (Status s = store_.Open(options_.data_dir, {}); !s.ok()) return s.ToString();
  runner_ = std::make_unique<ProjectionRunner>(&store_, options_.runner);
  return runner_->Open();
}

void ProjectionService::Mount(http::Server& server) {
  ProjectionRunner* runner = runner_.get();
  QueryOptions q;
  q.lag = [runner] { return runner->lag(); };
  q.max_lag = options_.max_lag;
  q.positions = [runner] { return runner->positions(); };
  RegisterQueryRoutes(server, store_, std::move(q));
}

std::string ProjectionService::Run(const std::atomic<bool>& stop) { return runner_->Run(stop); }

std::string ProjectionService::Close() {
  Status s = store_.Close();
  return s.ok() ? "" : s.ToString();
}

}  // namespace payorch::projection
