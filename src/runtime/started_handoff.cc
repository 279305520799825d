#include "runtime/started_handoff.h"

#include <utility>

namespace payorch::runtime {

void StartedHandoff::Offer(Item item) {
  std::lock_guard lock(mu_);
  if (items_.size() >= capacity_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  items_.push_back(std::move(item));
}

std::vector<StartedHandoff::Item> StartedHandoff::Take() {
  std::vector<Item> out;
  std::lock_guard lock(mu_);
  out.swap(items_);
  return out;
}

}  // namespace payorch::runtime
