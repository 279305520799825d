// GatewaySimulator: a remote payment processor on loopback, speaking the API of
// docs/gateway-api.md, for tests and demos of the HTTP connector (`payorch gateway-sim`).
//
// Engine: a connectors::SimulatedGateway (seeded fates per (seed, key, try), real
// idempotency, optional ledger file). This component adds what only HTTP has:
//  - Idempotency by body: the first request under an Idempotency-Key binds the key to its
//    method, path and body (SHA-256). The same key and body get the first answer again
//    (header Idempotent-Replayed: true when it was recorded); the same key with a different
//    body is 409 idempotency_error and changes nothing.
//  - Fates as HTTP: declines are 402 card_error; processor_unavailable is 503 and
//    network_failure 502 (nothing processed, nothing recorded); timeout_not_charged and
//    charged_answer_lost hold the request for hang_ms and answer 504 (a client with a
//    shorter timeout sees a timeout), the second having charged. A held answer (hang_ms,
//    the engine's latency) waits on a server timer, not on a thread.
//  - GET /v1/audit: every charge (authorize/sale) with its authorized, captured, voided and
//    refunded amounts, and the charge count per idempotency key.
//  - Bearer token check when `token` is set (401 otherwise).
//
//   GatewaySimulatorOptions o;
//   o.engine = ParseGatewaySpec("flaky:seed=7,decline=0.1,lost=0.02").value();
//   o.engine.processor_id = "stripe";
//   auto sim = GatewaySimulator::Open(std::move(o));
//   http::Server server;
//   sim.value()->RegisterRoutes(server);
//   auto port = server.Start("127.0.0.1:0");
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/ledger.h"
#include "connectors/simulated_gateway.h"
#include "connectors/status.h"
#include "http/server.h"

namespace payorch::gatewaysim {

struct GatewaySimulatorOptions {
  connectors::SimulatedGatewayOptions engine;
  int64_t hang_ms = 0;  // how long a timed-out or lost answer is held before the 504
  std::string token;    // required bearer token; "" = none
};

struct Charge {
  std::string idempotency_key;
  std::string reference;
  std::string payment_id;
  uint32_t step_index = 0;
  std::string currency;
  int64_t authorized = 0;
  int64_t captured = 0;
  int64_t voided = 0;
  int64_t refunded = 0;
};

class GatewaySimulator {
 public:
  [[nodiscard]] static connectors::StatusOr<std::unique_ptr<GatewaySimulator>> Open(
      GatewaySimulatorOptions options);

  // Mounts the API routes (see docs/gateway-api.md).
  void RegisterRoutes(http::Server& server);

  // Every charge with what later operations did to it, in ledger order.
  [[nodiscard]] std::vector<Charge> Charges() const;
  [[nodiscard]] std::vector<connectors::LedgerEntry> Ledger() const { return engine_->Ledger(); }
  // The answer to one request and how long to hold it (the engine's latency; hang_ms for
  // a timed-out or lost answer). The routes send it after `delay` with a server timer, so
  // a held answer holds no thread.
  struct Answer {
    Answer(http::Response r,  // NOLINT(google-explicit-constructor): most are not held
           std::chrono::milliseconds d = std::chrono::milliseconds{0})
        : response(std::move(r)), delay(d) {}
    http::Response response;
    std::chrono::milliseconds delay{0};
  };
  [[nodiscard]] Answer Decide(const http::Request& request);

 private:
  GatewaySimulator(GatewaySimulatorOptions options, bool hold_latency,
                   std::unique_ptr<connectors::SimulatedGateway> engine);
  Answer Write(const http::Request& request, connectors::OperationKind kind,
               const std::string& target);
  Answer Retrieve(const std::string& key);
  http::Response Audit() const;

  GatewaySimulatorOptions options_;
  // The engine's latency is ours to hold (Answer::delay) unless the caller gave it a sleep.
  const bool hold_latency_;
  std::unique_ptr<connectors::SimulatedGateway> engine_;
  std::mutex mu_;
  std::map<std::string, std::string> bodies_;  // idempotency key -> digest of its request
};

}  // namespace payorch::gatewaysim
