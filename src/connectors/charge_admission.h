// ChargeAdmission: which new charge the connectors may shed when its processor is
// saturated. A charge is shed (answered as skipped, the plan's fallback takes it) only when
// nothing has been charged for its payment yet. A later step of a split plan, whose earlier
// step is already charged, is committed work: shedding it would fail a payment whose money
// is already held and add a compensating void for a processor, so it is queued like a
// follow-up. That queue stays bounded by the payments admitted (one step in flight each).
//
//   ChargeAdmission admission;
//   for (const EventEnvelope& e : counted_events) admission.OnEvent(e);
//   if (saturated && admission.MayShed(started_event)) AnswerSkipped(started_event);
//
// Memory: one entry per payment with a charged step and no final event yet (payments at
// rest are dropped). Not thread-safe: one owner (the connector loop's poll thread).
#pragma once

#include <string>
#include <unordered_set>

#include "payments/events/v1/events.pb.h"

namespace payorch::connectors {

class ChargeAdmission {
 public:
  void OnEvent(const ::payments::events::v1::EventEnvelope& event);
  // Whether the charge `started` (a StepStarted) may be refused for saturation.
  [[nodiscard]] bool MayShed(const ::payments::events::v1::EventEnvelope& started) const;
  [[nodiscard]] size_t partly_charged() const { return partly_charged_.size(); }

 private:
  std::unordered_set<std::string> partly_charged_;  // payment ids
};

}  // namespace payorch::connectors
