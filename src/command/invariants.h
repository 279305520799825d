// Invariant breaches of the payment core: something the rules say cannot happen did (today:
// an event asks for a status transition the table in transitions.h does not have). The
// core stays pure: it reports here and carries on with the state unchanged; the process
// decides what a breach means. Production counts and logs it (payorch_invariant_breaches_total,
// an error line); tests make it fatal (tests/support/command_harness.h).
//
//   command::SetBreachHandler(+[](std::string_view what) { spdlog::error("{}", what); });
//   ...
//   metrics.invariant_breaches = command::BreachCount();
#pragma once

#include <cstdint>
#include <string_view>

namespace payorch::command {

// Called once per breach, on the deciding thread, after it is counted. nullptr: count only.
using BreachHandler = void (*)(std::string_view what);
void SetBreachHandler(BreachHandler handler);

// Counts a breach and calls the handler.
void ReportBreach(std::string_view what);

// Breaches since the process started (all threads).
int64_t BreachCount();

}  // namespace payorch::command
