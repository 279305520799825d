// StartedHandoff: a decided *Started event handed from a writer to the connector loop of
// the same process as soon as the log has acknowledged it, so the gateway call does not
// wait for the connectors' consumer to fetch it back (one log hop less per call). The log
// stays the truth: the connector loop still reads every event, in order, and only skips
// the call it already made for a handed offset; a restart reads the log as before.
//
// Which events may be handed (PartitionWriter decides): *Started events of a group the
// log placed right after the writer's own previous records (no foreign record between the
// writer's claim and them), so no newer claim precedes them and they count under the
// validity rule. Which are taken (ConnectorLoop decides): those of a partition it owns,
// beyond what it has read, whose epoch is the one its reader is in (it has read this
// writer's claim and nothing newer). Everything else is left to the log.
//
//   StartedHandoff handoff;                       // shared by the writers and connectors
//   handoff.Offer({partition, offset, epoch, event});   // writer, on delivery
//   for (StartedHandoff::Item& item : handoff.Take()) ...  // connector loop, each poll
//
// Bounded: at most `capacity` items wait; an offer beyond it is dropped (the log delivers
// that event anyway) and counted. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "payments/events/v1/events.pb.h"

namespace payorch::runtime {

class StartedHandoff {
 public:
  struct Item {
    int32_t partition = 0;
    int64_t offset = 0;
    uint64_t epoch = 0;
    ::payments::events::v1::EventEnvelope event;
  };

  explicit StartedHandoff(size_t capacity = 4096) : capacity_(capacity) {}

  void Offer(Item item);
  [[nodiscard]] std::vector<Item> Take();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::vector<Item> items_;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace payorch::runtime
