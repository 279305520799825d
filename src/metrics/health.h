// Health: GET /health/live (the process answers) and GET /health/ready (every readiness
// check passes). Components report to a Readiness registry, either by setting a state or
// by registering a check evaluated on each request.
//
//   metrics::Readiness ready;
//   ready.Set("writers", false, "restoring partitions");       // later: Set("writers", true)
//   ready.AddCheck("broker", [&] { return metrics::Check{Reachable(), "bootstrap ..."}; });
//   metrics::RegisterHealthRoutes(server, ready);
//   // GET /health/ready -> 200 {"status":"ready","checks":{...}} or 503 {"status":"not_ready",...}
//
// Thread-safe; not on any hot path (a mutex guards the registry).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace payorch::http {
class Server;
}
namespace payorch::log {
struct KafkaOptions;
}

namespace payorch::metrics {

struct Check {
  bool ok = false;
  std::string detail;
};

class Readiness {
 public:
  // A component's state; a name never reported is not part of readiness.
  void Set(const std::string& name, bool ok, std::string detail = "");
  // A check run on each readiness request (keep it quick; cache what is slow).
  void AddCheck(const std::string& name, std::function<Check()> check);

  struct Result {
    bool ready = true;
    std::map<std::string, Check> checks;
  };
  // Ready when every state and check is ok (and there is at least one).
  [[nodiscard]] Result Evaluate() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Check> states_;
  std::map<std::string, std::function<Check()>> checks_;
};

void RegisterHealthRoutes(http::Server& server, const Readiness& readiness);

// A check that the Kafka cluster answers a metadata request within 1 s (its admin client is
// made on first use and kept).
[[nodiscard]] std::function<Check()> BrokerCheck(const log::KafkaOptions& kafka);

// A projection's readiness: it has not stopped (`stopped`: its error, "" while it runs) and
// is at most `max_lag` records behind the log (`max_lag` < 0: any lag).
[[nodiscard]] Check ProjectionCheck(int64_t lag, int64_t max_lag, const std::string& stopped);

}  // namespace payorch::metrics
