// The one rule for "too far behind to answer": the query API, the merchant API and the
// readiness checks of `payorch run` and `payorch api` all apply it.
#pragma once

#include <cstdint>

namespace payorch::projection {

// Whether a projection `lag` records behind its log (-1: not known yet, e.g. starting) is
// too far behind to answer reads: unknown, or more than `max_lag`. `max_lag` < 0: never.
[[nodiscard]] constexpr bool TooFarBehind(int64_t lag, int64_t max_lag) {
  return max_lag >= 0 && (lag < 0 || lag > max_lag);
}

}  // namespace payorch::projection
