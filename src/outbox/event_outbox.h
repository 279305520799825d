// EventOutbox: the ordered, idempotent publisher of a writer's decided events.
//
// Each command's events go out as one group, in order, to the events partition with the
// command's partition number, through the idempotent producer (one producer per process
// keeps every partition's records in order). A group's callback runs once, after all its
// records are settled, with the offsets they got. Once a partition is fenced, the outbox
// refuses to publish for it: a writer that learns it lost the partition never adds
// another event under its stale epoch.
//
//   EventOutbox outbox(producer, options.Topic(TopicKind::kEvents));
//   outbox.Publish(partition, std::move(records), [&](const GroupResult& r) { ... });
//   outbox.Fence(partition);  // from now on Publish(partition, ...) fails
//
// Not thread-safe: used from the writer thread that polls the producer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "log/producer.h"

namespace payorch::outbox {

struct GroupResult {
  int32_t partition = 0;
  bool ok = false;
  std::string error;             // when !ok
  std::vector<int64_t> offsets;  // one per record, when ok
};

struct OutboxProbe {
  uint64_t groups = 0;
  uint64_t records = 0;
  uint64_t refused_fenced = 0;
  uint64_t failures = 0;
};

class EventOutbox {
 public:
  using GroupCallback = std::function<void(const GroupResult&)>;

  EventOutbox(log::Producer& producer, std::string events_topic);

  // Queues the records of one command's group for `partition`. Fails (without queueing
  // anything) if the partition is fenced or the producer refuses a record.
  [[nodiscard]] log::LogStatus Publish(int32_t partition, std::vector<std::string> keys,
                                       std::vector<std::string> values, GroupCallback done);

  void Fence(int32_t partition) { fenced_.insert(partition); }
  void Unfence(int32_t partition) { fenced_.erase(partition); }
  bool fenced(int32_t partition) const { return fenced_.count(partition) > 0; }

  // Records queued or in flight.
  int64_t depth() const { return depth_; }
  const OutboxProbe& probe() const { return probe_; }

 private:
  log::Producer& producer_;
  const std::string topic_;
  std::set<int32_t> fenced_;
  int64_t depth_ = 0;
  OutboxProbe probe_;
};

}  // namespace payorch::outbox
