// Admission: whether payorch takes new payments now. Overload is refused early and
// visibly instead of being accepted and then failed or left unsettled
// (docs/overload.md): the connectors report their load, and the writers (a new
// CreatePayment is rejected REJECT_REASON_OVERLOADED) and the merchant API (503
// `overloaded` with Retry-After, before anything is appended) ask.
//
// The rule (NextOverloaded, pure): payorch is overloaded when
//  - its connectors stopped reading the log (more than max_queued gateway tasks wait), or
//  - at least max_unknown gateway outcomes are unknown (being reconciled), or
//  - every processor is saturated and some has work (connectors::EveryProcessorSaturated:
//    a known processor with no work is room for the plan's fallback): no new charge could
//    be sent now.
// It stays overloaded until the queued tasks and the unknown outcomes are back under
// `recover_ratio` of their limits and some processor has room (hysteresis: no flapping).
//
//   Admission admission({.max_unknown = 512});
//   admission.Report({.queued = q, .unknown = u, .paused = p, .all_saturated = s});  // loop
//   if (admission.overloaded()) return Reject(...);                                // edge
//
// Thread-safe (atomics); Report() from one thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

namespace payorch::runtime {

struct AdmissionLimits {
  size_t max_queued = 4096;  // gateway tasks waiting in all bulkheads (the connectors pause)
  size_t max_unknown = 512;  // gateway outcomes unknown at once; 0 = no limit
  double recover_ratio = 0.8;
  int retry_after_s = 2;  // the Retry-After the merchant API answers with
};

struct ConnectorLoad {
  size_t queued = 0;
  size_t unknown = 0;
  bool paused = false;
  bool all_saturated = false;
};

// The next state from the current one and the load (see the header comment).
[[nodiscard]] bool NextOverloaded(bool overloaded, const ConnectorLoad& load,
                                  const AdmissionLimits& limits);

class Admission {
 public:
  explicit Admission(AdmissionLimits limits = {}) : limits_(limits) {}
  // Returns true when the state changed.
  bool Report(const ConnectorLoad& load);
  [[nodiscard]] bool overloaded() const { return overloaded_.load(std::memory_order_relaxed); }
  const AdmissionLimits& limits() const { return limits_; }

 private:
  const AdmissionLimits limits_;
  std::atomic<bool> overloaded_{false};
};

}  // namespace payorch::runtime
