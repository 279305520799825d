#include "connectors/success_rate.h"

#include <algorithm>
#include <random>

#include "command/aggregate.h"
#include "connectors/internal/hash.h"

namespace payorch::connectors {

namespace cfg = ::payments::config::v1;
namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

SuccessRateRouter::SuccessRateRouter(cfg::OrchestratorConfig config, uint64_t seed)
    : plans_(std::move(config)), seed_(seed) {}

const cfg::MerchantConfig* SuccessRateRouter::Merchant(const std::string& id) const {
  const cfg::MerchantConfig* m = plans_.FindMerchant(id);
  return m != nullptr && m->success_rate_routing().enabled() ? m : nullptr;
}

void SuccessRateRouter::Observe(const ev::EventEnvelope& e) {
  const ev::GatewayOperation* op = nullptr;
  bool success = false;
  if (e.has_step_succeeded()) {
    op = &e.step_succeeded().op();
    success = true;
  } else if (e.has_step_failed() && !e.step_failed().circuit_open()) {
    op = &e.step_failed().op();
  } else {
    return;
  }
  const cfg::MerchantConfig* m = Merchant(e.merchant_id());
  if (m == nullptr) return;
  const size_t window =
      m->success_rate_routing().window() > 0 ? m->success_rate_routing().window() : 200;
  std::lock_guard lock(mu_);
  auto& w = windows_[Key{e.merchant_id(), op->method(), op->processor_id()}];
  w.push_back(success);
  while (w.size() > window) w.pop_front();
}

std::pair<double, size_t> SuccessRateRouter::RateOf(const std::string& merchant_id,
                                                    types::PaymentMethod method,
                                                    const std::string& processor) const {
  std::lock_guard lock(mu_);
  auto it = windows_.find(Key{merchant_id, method, processor});
  if (it == windows_.end() || it->second.empty()) return {1.0, 0};
  const auto ok = std::count(it->second.begin(), it->second.end(), true);
  return {static_cast<double>(ok) / static_cast<double>(it->second.size()), it->second.size()};
}

std::vector<std::string> SuccessRateRouter::Rank(const std::string& merchant_id,
                                                 types::PaymentMethod method,
                                                 const std::string& payment_id) const {
  std::vector<std::string> out;
  const cfg::MerchantConfig* m = Merchant(merchant_id);
  if (m == nullptr) return out;
  auto plan = plans_.Build(merchant_id, 1, "USD", method);
  if (!plan.ok()) return out;
  for (const auto& step : plan.value().steps()) {
    if (std::find(out.begin(), out.end(), step.processor_id()) == out.end()) {
      out.push_back(step.processor_id());
    }
  }
  const auto& routing = m->success_rate_routing();
  const uint64_t h = internal::Mix64(internal::Fnv1a64(payment_id) ^ seed_);
  if (routing.exploration_percent() > 0 && h % 100 < routing.exploration_percent()) {
    std::mt19937_64 rng(h);
    std::shuffle(out.begin(), out.end(), rng);
    return out;
  }
  std::vector<double> score;
  for (const auto& p : out) {
    auto [rate, n] = RateOf(merchant_id, method, p);
    score.push_back(n < routing.min_samples() ? 1.0 : rate);
  }
  std::vector<size_t> idx(out.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  std::vector<std::string> ranked;
  for (size_t i : idx) ranked.push_back(out[i]);
  return ranked;
}

void SuccessRateRouter::Stamp(cmd::CommandEnvelope* command) const {
  if (!command->has_create()) return;
  auto* c = command->mutable_create();
  const std::string payment_id = command::TargetPaymentId(*command);
  c->clear_processor_preference();
  for (auto& p : Rank(c->merchant_id(), c->method(), payment_id)) c->add_processor_preference(p);
}

}  // namespace payorch::connectors
