#include "connectors/held_money.h"

#include <algorithm>

namespace payorch::connectors {

namespace ev = ::payments::events::v1;

std::optional<int64_t> HeldMoney::OnEvent(const ev::EventEnvelope& event, int64_t now_ms) {
  if (event.has_void_started() && event.void_started().compensation()) {
    const std::string& key = event.void_started().op().parent_id();
    if (key.empty()) return std::nullopt;
    const int64_t at =
        event.occurred_at_ms() > 0 ? std::min(event.occurred_at_ms(), now_ms) : now_ms;
    found_at_.try_emplace(key, at);  // a retried void keeps the first finding's time
    return std::nullopt;
  }
  if (event.has_payment_voided() && event.payment_voided().compensation()) {
    auto it = found_at_.find(event.payment_voided().op().parent_id());
    if (it == found_at_.end()) return std::nullopt;
    const int64_t end = event.occurred_at_ms() > 0 ? event.occurred_at_ms() : now_ms;
    const int64_t held = std::max<int64_t>(0, end - it->second);
    found_at_.erase(it);
    return held;
  }
  return std::nullopt;
}

int64_t HeldMoney::OldestAgeMs(int64_t now_ms) const {
  int64_t oldest = now_ms;
  for (const auto& [key, at] : found_at_) oldest = std::min(oldest, at);
  return now_ms - oldest;
}

}  // namespace payorch::connectors
