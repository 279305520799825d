#include "command/event_pool.h"

#include "command/internal/event_pool_parts.h"

namespace payorch::command {

EventPool::EventPool() : parts_(std::make_unique<internal::EventPoolParts>()) {}

EventPool::~EventPool() = default;

void EventPool::Recycle(std::vector<::payments::events::v1::EventEnvelope>& events) {
  for (auto& e : events) parts_->Recycle(e);
  events.clear();
}

size_t EventPool::envelopes() const { return parts_->envelopes.size(); }

}  // namespace payorch::command
