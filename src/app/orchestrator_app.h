// The orchestrator as one process, composed: the Kafka log (an embedded broker when none
// is given), the single writers and connectors (runtime::Orchestrator), the gateways and
// their circuit breakers, and the optional HTTP servers: /metrics and /health, signed
// gateway webhooks, the query API or the merchant API over a projection. `payorch run`
// parses its flags into RunOptions and calls Run(); nothing here reads argv, files or
// signals, or writes stderr.
//
//   app::RunOptions options;
//   options.kafka.bootstrap_servers = "127.0.0.1:9092";
//   options.config = config::DefaultConfig();
//   options.logger = logger;
//   app::RunOutcome outcome = app::Run(options, stop);  // returns once `stop` is set
//
// Thread safety: Run blocks its caller until `stop` is set (from any thread, e.g. a signal
// handler) or the orchestrator fails; it drains and stops every server before returning.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "api/config.h"
#include "log/options.h"
#include "payments/config/v1/config.pb.h"

namespace spdlog {
class logger;
}

namespace payorch::app {

// The closed ranges Validate() holds the numeric options to (`payorch run` checks its
// flags against the same ones). max = INT64_MAX: no upper bound.
struct Limits {
  int64_t min;
  int64_t max = std::numeric_limits<int64_t>::max();
};
inline constexpr Limits kConnectorThreadsLimits{1, 256};
inline constexpr Limits kConnectorQueueLimitLimits{1, 1'000'000};
inline constexpr Limits kConnectorMaxQueuedLimits{1, 10'000'000};
inline constexpr Limits kMaxUnknownOutcomesLimits{0, 10'000'000};
inline constexpr Limits kMaxCachedPaymentsLimits{1};
inline constexpr Limits kMaxLagLimits{-1};

struct RunOptions {
  // Where the log is. With neither bootstrap_servers nor bootstrap_file, Run starts an
  // embedded broker in this process. property_args (-X key=value) are resolved by Run.
  log::KafkaOptions kafka;
  ::payments::config::v1::OrchestratorConfig config;  // merchants, plans, breakers
  std::shared_ptr<spdlog::logger> logger;             // default: spdlog's default

  std::string data_dir = "data/payorch";  // state store (a cache of the log), projection, api
  std::string writer_id;                  // in WriterClaimed records; "": host-pid
  std::string gateways = "*=mock";        // "id=spec;...;*=spec" (src/connectors/README.md)
  std::string ledger_dir;                 // simulated gateways' ledgers; "": DATA_DIR/ledgers

  int connector_threads = 8;              // per processor, in [1, 256]
  int64_t connector_queue_limit = 256;    // per processor, in [1, 1e6]
  int64_t connector_max_queued = 4096;    // in all, in [1, 1e7]
  int64_t max_unknown_outcomes = 512;     // in [0, 1e7]; 0: no limit
  int64_t max_cached_payments = 100'000;  // for all partitions of the process, at least 1
  bool no_connectors = false;             // run only the writers
  bool no_writers = false;                // run only the connectors
  std::string assign;  // "all" or "0,2,5": these partitions without a consumer group

  std::string metrics_addr;     // host:port of /metrics and /health; "": none
  std::string webhooks_addr;    // host:port of POST /v1/webhooks/{processor}; "": none
  std::string webhook_secrets;  // "processor=ENV_VAR;..."
  std::string http_addr;        // host:port of the query (or merchant) API; "": none
  int64_t max_lag = 10'000;     // 503 while the projection is further behind; -1: never
  bool merchant_api = false;    // serve the merchant API on http_addr (needs http_addr)
  // PEM certificate chain and key: the --http and --webhooks listeners speak HTTPS (both or
  // neither; /metrics and /health stay plain HTTP).
  std::string tls_cert_file;
  std::string tls_key_file;
  api::ApiConfig merchant_config;

  // Lines a person or a test reads off stdout ("embedded broker at ...", "metrics at
  // http://host:port/metrics", "query API at ...", "merchant API at ...", "webhooks at
  // ..."). Default: printed to stdout and flushed.
  std::function<void(const std::string&)> announce;
};

// How Run ended. `message` is one line (empty when stopped).
struct RunOutcome {
  enum class Kind {
    kStopped,    // `stop` was set; everything drained
    kBadInput,   // an option's value is unusable (bad --assign, --gateways, secrets, ...)
    kFailed,     // set-up failed: broker, topics, a server could not start
    kRunFailed,  // the running orchestrator failed; already logged through options.logger
  };
  Kind kind = Kind::kStopped;
  std::string message;
};

// Checks what can be checked before anything starts: bounds, host:port addresses, -X
// key=value, the form of --assign, --merchant-api with --http, --webhooks with the
// secrets --webhook-secrets names (the only thing read: those environment variables).
// "" or a one-line error naming the flag. Run checks it first too.
[[nodiscard]] std::string Validate(const RunOptions& options);

// Composes and runs the orchestrator until `stop` is set.
[[nodiscard]] RunOutcome Run(const RunOptions& options, const std::atomic<bool>& stop);

}  // namespace payorch::app
