// SimulatedGateway: an in-process payment processor with real idempotency semantics and an
// auditable ledger. It backs the "mock" and "flaky" processors (see registry.h for specs).
//
// Fates. Each try of an operation has a fate that is a pure function of
// (seed, idempotency key, try index) (FateOf below), never of call order or thread
// interleaving across keys, so runs replay exactly:
//   succeeded                money moves; answer SUCCEEDED
//   declined / hard_declined / invalid_card
//                            answer FAILED with DECLINED / HARD_DECLINE / INVALID_CARD;
//                            only for authorize/sale (a processor does not decline a void)
//   timeout_not_charged      answer UNKNOWN (TIMEOUT); nothing happened; Retrieve says
//                            NOT_FOUND
//   charged_answer_lost      money moves and is recorded, but the answer is UNKNOWN
//                            (TIMEOUT); Retrieve and a repeated Execute say SUCCEEDED
//   network_failure          answer FAILED (NETWORK_FAILURE); the request never arrived
//   processor_unavailable    answer FAILED (PROCESSOR_UNAVAILABLE); nothing happened
// A "mock" processor has all probabilities 0: every try succeeds.
//
// Idempotency (what the processor remembers under a key):
//  - A SUCCEEDED or FAILED-by-decision answer (decline, hard decline, invalid card, strict
//    target check) is recorded. A repeated Execute returns it again and moves no money;
//    for a charged_answer_lost key it returns the SUCCEEDED record.
//  - timeout_not_charged, network_failure and processor_unavailable record nothing: a
//    repeated Execute under the key is a fresh try (try index + 1, so a new fate).
//  - Once Retrieve has answered NOT_FOUND for a key, the key is sealed: a later Execute
//    under it answers FAILED (UNKNOWN) and moves nothing. So a late redelivery cannot turn
//    a reconciled "never happened" into a charge behind the orchestrator's back.
//  - The same key with a different kind, amount or currency is an idempotency conflict:
//    FAILED (UNKNOWN), no money moves, the first record stays.
//
// Ledger and persistence. With ledger_path set, every record (successes, decided failures
// and seals) is appended as one line with write(2) before the answer is returned, and the
// file is reloaded by Open(). A gateway in a process that is SIGKILLed and restarted keeps
// its idempotency memory and ledger. One process per file. Try counters of unrecorded
// tries are memory only (after a restart a key's next try has index 0 again).
//
// Latency. latency_ms is slept (outside the lock) on each Execute and reported. If it
// exceeds the request's timeout_ms, the caller gives up at timeout_ms: the answer becomes
// UNKNOWN (TIMEOUT) while the operation itself goes ahead as its fate says.
//
//   SimulatedGatewayOptions options;
//   options.processor_id = "psp_a";
//   options.rates.decline = 0.1;
//   auto gateway = SimulatedGateway::Open(options);   // StatusOr<unique_ptr<...>>
//   GatewayAnswer a = gateway.value()->Execute(request);
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/gateway.h"
#include "connectors/ledger.h"
#include "connectors/status.h"

namespace payorch::connectors {

namespace internal {
struct GatewayState;
}  // namespace internal

enum class Fate {
  kSucceeded,
  kDeclined,
  kHardDeclined,
  kInvalidCard,
  kTimeoutNotCharged,
  kChargedAnswerLost,
  kNetworkFailure,
  kProcessorUnavailable,
};
const char* FateName(Fate fate);

// Probabilities per try; their sum must not exceed 1.
struct FlakyRates {
  double decline = 0;
  double hard_decline = 0;
  double invalid_card = 0;
  double timeout = 0;      // timeout_not_charged
  double lost = 0;         // charged_answer_lost
  double network = 0;      // network_failure
  double unavailable = 0;  // processor_unavailable
};

struct SimulatedGatewayOptions {
  std::string processor_id;
  uint64_t seed = 0;
  FlakyRates rates;  // all 0: the "mock" processor
  // false: only authorize/sale tries have fates; capture/void/refund always succeed.
  bool faults_on_all_kinds = true;
  // Caps the amount an authorize/sale processes (a partial authorization); 0 = no cap.
  int64_t max_per_operation = 0;
  uint32_t latency_ms = 0;
  // Probability that one Retrieve cannot tell (answers UNKNOWN); a function of
  // (seed, key, retrieve index).
  double retrieve_unknown = 0;
  // Refuse (FAILED, UNKNOWN; recorded) a capture/void/refund whose target is not a
  // standing charge of this gateway, or that would exceed what the target took.
  bool strict_targets = false;
  std::string ledger_path;  // empty: memory only
  // How latency is spent; default std::this_thread::sleep_for. Tests inject a no-op.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The fate of try `try_index` of `key`. Pure. With is_charge = false (capture, void,
// refund) the decline bands count as success.
[[nodiscard]] Fate FateOf(const FlakyRates& rates, uint64_t seed, std::string_view key,
                          uint32_t try_index, bool is_charge);

class SimulatedGateway final : public Gateway {
 public:
  // Validates the options and, with a ledger_path, reloads the file.
  [[nodiscard]] static StatusOr<std::unique_ptr<SimulatedGateway>> Open(
      SimulatedGatewayOptions options);
  ~SimulatedGateway() override;

  GatewayAnswer Execute(const GatewayRequest& request) override;
  GatewayAnswer Retrieve(std::string_view idempotency_key) override;

  // Successful money movements, in order.
  std::vector<LedgerEntry> Ledger() const;
  // Whether a Retrieve found nothing under `key` and sealed it: a write under it is
  // refused from then on (Execute answers FAILED / PROCESSOR_UNAVAILABLE: nothing
  // happened and nothing will, the meaning of the failure that led to the seal).
  bool Sealed(std::string_view key) const;
  const SimulatedGatewayOptions& options() const { return options_; }

 private:
  explicit SimulatedGateway(SimulatedGatewayOptions options);

  SimulatedGatewayOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<internal::GatewayState> state_;  // guarded by mu_
};

}  // namespace payorch::connectors
