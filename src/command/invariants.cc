#include "command/invariants.h"

#include <atomic>

namespace payorch::command {
namespace {
std::atomic<int64_t> breaches{0};
std::atomic<BreachHandler> handler{nullptr};
}  // namespace

void SetBreachHandler(BreachHandler h) { handler.store(h); }

void ReportBreach(std::string_view what) {
  breaches.fetch_add(1, std::memory_order_relaxed);
  if (BreachHandler h = handler.load()) h(what);
}

int64_t BreachCount() { return breaches.load(std::memory_order_relaxed); }

}  // namespace payorch::command
