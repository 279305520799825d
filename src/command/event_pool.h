// EventPool: recycled event messages for DecideAndApply, so that deciding command after
// command allocates almost nothing once the pool is warm.
//
// A proto3 message frees its sub-messages when cleared, so a cleared EventEnvelope keeps
// only its own strings. The pool keeps everything: Recycle() takes events apart into
// per-type free lists (envelope, causation, payload, operation, amount, result, plan...),
// each cleared with its strings' capacity kept, and DecideAndApply() builds new events
// from those parts. Events built from the pool are ordinary heap messages: they may be
// kept, moved or destroyed like any other (destroying them just does not refill the pool).
//
//   EventPool pool;                                   // one per writer thread
//   std::vector<EventEnvelope> events;
//   DecideAndApply(state, record, ctx, events, pool);  // built from pooled parts
//   ... publish and persist `events` ...
//   pool.Recycle(events);                              // parts back; `events` is cleared
//
// Not thread-safe: use one pool per thread. Events of any origin may be recycled. The pool
// holds at most as many parts as were recycled into it (the writer's events in flight).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "payments/events/v1/events.pb.h"

namespace payorch::command {

namespace internal {
struct EventPoolParts;
}  // namespace internal

class EventPool {
 public:
  EventPool();
  ~EventPool();
  EventPool(const EventPool&) = delete;
  EventPool& operator=(const EventPool&) = delete;

  // Takes the events apart into the pool and clears `events` (its capacity is kept).
  void Recycle(std::vector<::payments::events::v1::EventEnvelope>& events);

  // Envelopes ready for reuse (for tests and probes).
  size_t envelopes() const;

  // For DecideAndApply (src/command/ internals).
  internal::EventPoolParts& parts() { return *parts_; }

 private:
  std::unique_ptr<internal::EventPoolParts> parts_;
};

}  // namespace payorch::command
