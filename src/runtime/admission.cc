#include "runtime/admission.h"

namespace payorch::runtime {

bool NextOverloaded(bool overloaded, const ConnectorLoad& load, const AdmissionLimits& limits) {
  const auto over = [](size_t value, size_t limit, double ratio) {
    return limit > 0 && static_cast<double>(value) >= static_cast<double>(limit) * ratio;
  };
  if (!overloaded) {
    return load.paused || load.all_saturated || over(load.queued, limits.max_queued, 1.0) ||
           over(load.unknown, limits.max_unknown, 1.0);
  }
  // Recovered only when every trigger is clear with a margin.
  const bool still = load.paused || load.all_saturated ||
                     over(load.queued, limits.max_queued, limits.recover_ratio) ||
                     over(load.unknown, limits.max_unknown, limits.recover_ratio);
  return still;
}

bool Admission::Report(const ConnectorLoad& load) {
  const bool before = overloaded();
  const bool after = NextOverloaded(before, load, limits_);
  if (after == before) return false;
  overloaded_.store(after, std::memory_order_relaxed);
  return true;
}

}  // namespace payorch::runtime
