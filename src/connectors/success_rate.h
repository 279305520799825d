// SuccessRateRouter: ranks the processors a merchant's routing profile makes eligible for
// a method by their recent success rate, for CreatePayment.processor_preference.
//
// Where determinism comes from (docs/gateway-api.md, "Routing"): the statistics are live,
// so they never reach decide() directly. Whoever appends a CreatePayment stamps the
// ranking into the command (Stamp); the core's PlanBuilder applies it (only when the
// merchant enables success_rate_routing, only among eligible processors) and PlanBuilt
// fixes the resulting order in the log. Replaying the log never consults statistics.
//
// Statistics: per (merchant, method, processor), the outcomes of the last `window` step
// results seen in the events stream (StepSucceeded = success; StepFailed = failure, except
// a step skipped by an open circuit breaker, which was never called). Ranking: success
// rate, best first; a processor with fewer than min_samples results ranks as 1.0 (so new
// processors get traffic); ties keep profile order. Exploration: a payment whose seeded
// hash of its payment id falls under exploration_percent gets a seeded shuffle instead.
//
//   SuccessRateRouter router(config, /*seed=*/7);
//   for (const EventEnvelope& e : events) router.Observe(e);
//   router.Stamp(&create_command);   // fills create.processor_preference
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "command/plan_builder.h"
#include "payments/commands/v1/commands.pb.h"
#include "payments/config/v1/config.pb.h"
#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

class SuccessRateRouter {
 public:
  SuccessRateRouter(::payments::config::v1::OrchestratorConfig config, uint64_t seed);

  void Observe(const ::payments::events::v1::EventEnvelope& event);

  // Eligible processors for the payment, best first; empty if the merchant does not enable
  // success-rate routing or has no profile for the method.
  [[nodiscard]] std::vector<std::string> Rank(const std::string& merchant_id,
                                              ::payments::types::v1::PaymentMethod method,
                                              const std::string& payment_id) const;
  // Sets create.processor_preference of a CreatePayment command (no-op for others).
  void Stamp(::payments::commands::v1::CommandEnvelope* command) const;

  // Success rate in [0, 1] and sample count of a processor (for tests and metrics).
  [[nodiscard]] std::pair<double, size_t> RateOf(const std::string& merchant_id,
                                                 ::payments::types::v1::PaymentMethod method,
                                                 const std::string& processor) const;

 private:
  using Key = std::tuple<std::string, int, std::string>;
  const ::payments::config::v1::MerchantConfig* Merchant(const std::string& id) const;

  command::PlanBuilder plans_;
  uint64_t seed_;
  mutable std::mutex mu_;
  std::map<Key, std::deque<bool>> windows_;
};

}  // namespace payorch::connectors
