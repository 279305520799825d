// HeldMoney: money a processor holds for a payment that cannot keep it, as the connectors
// read the events log: from the compensating void the core starts (VoidStarted with
// compensation, the moment the charge was found) until that void succeeds
// (PaymentVoided with compensation, for the same reversed charge). A compensation void
// that fails is started again by the core, so the charge stays held meanwhile.
//
// It feeds the money-at-risk metrics (count, oldest age, time to void) and the alert on
// them (deploy/prometheus/alerts.yml). Pure: times come in with the calls.
//
//   HeldMoney held;
//   for (const EventEnvelope& e : counted_events) {
//     if (auto ms = held.OnEvent(e, now_ms)) histogram.ObserveMillis(*ms);
//   }
//   gauge.Set(held.count()); age.Set(held.OldestAgeMs(now_ms));
//
// Not thread-safe: one owner (the connector loop's poll thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

class HeldMoney {
 public:
  // Returns how long the charge was held (found -> voided), when `event` ends a hold.
  std::optional<int64_t> OnEvent(const ::payments::events::v1::EventEnvelope& event,
                                 int64_t now_ms);
  size_t count() const { return found_at_.size(); }
  int64_t OldestAgeMs(int64_t now_ms) const;
  // Forgets everything (the connector lost its partitions; the next owner re-reads).
  void Clear() { found_at_.clear(); }

 private:
  std::map<std::string, int64_t> found_at_;  // reversed charge's key -> found at (ms)
};

}  // namespace payorch::connectors
