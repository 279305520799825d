// SharedReader: one consumer of every partition of a topic, for the readers in one process
// that would otherwise each fetch the same records (in `payorch run --merchant-api` and
// `payorch api`: the projection, whose batches the API's events follower observes, and the
// webhook feeder). The broker serves one fetch per batch instead of one per reader, and
// the records are decoded from the wire once.
//
// Each Subscription gets every record from its own start offsets, in offset order per
// partition, exactly as an assigned Consumer starting there would, and is polled on its
// subscriber's own thread through RecordSource::PollBatch. The reader's thread ("po-events")
// fetches on behalf of all of them.
//
// Bounds: a subscription holds at most `max_queued_records` records not yet polled; while
// any subscription is full the reader fetches nothing (the slowest subscriber paces the
// others, and memory stays bounded: the subscriptions share each fetched batch). A
// destroyed subscription no longer paces anyone. A detachable subscription never paces:
// when it is full it is dropped, its queue freed, and its next PollBatch fails
// kResourceExhausted (a code no consumer error has);
// its subscriber then reads on its own from the position it reached (ReadFrom(nullptr,
// ...)), so a slow subscriber of that kind cannot hold the others up.
//
// Lifecycle: Open(), Subscribe() every reader, Start() (each partition starts at the lowest
// start any subscriber asked for; a subscriber skips what lies below its own), then Stop()
// or destroy once every subscriber stopped polling. Subscribe() after Start() fails: it
// would need a seek back, which nothing needs.
//
//   auto reader = SharedReader::Open(kafka.HotPath(), "payorch.events", topic);
//   auto projection = reader.value()->Subscribe(checkpoints);  // StatusOr<unique_ptr<..>>
//   auto feeder = reader.value()->Subscribe(feeder_positions);
//   Status s = reader.value()->Start();
//   projection.value()->PollBatch(2'000, 20, &batch);   // on the projection's thread
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "log/consumer.h"
#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

class SharedReader {
 public:
  // A subscription holds at most this many records not yet polled (its default).
  static constexpr size_t kMaxQueuedRecords = 20'000;

  // Looks up the topic's partitions. `kafka` configures the one consumer (e.g. HotPath()
  // when a subscriber answers callers). `group_id` names it to the broker; nothing is
  // committed under it.
  [[nodiscard]] static StatusOr<std::unique_ptr<SharedReader>> Open(
      const KafkaOptions& kafka, std::string group_id, std::string topic,
      size_t max_queued_records = kMaxQueuedRecords);
  ~SharedReader();  // Stop()
  SharedReader(const SharedReader&) = delete;
  SharedReader& operator=(const SharedReader&) = delete;

  // A reader of every partition from `starts` (an offset, or kOffsetBeginning; a partition
  // not listed starts at the beginning); `detachable`: see Bounds above. Fails after
  // Start() and for other start kinds.
  [[nodiscard]] StatusOr<std::unique_ptr<RecordSource>> Subscribe(
      const std::vector<PartitionOffset>& starts, bool detachable = false);
  // Creates the consumer and starts fetching. Once.
  [[nodiscard]] Status Start();
  // Ends the reader's thread; subscriptions then get no more records. Idempotent.
  void Stop();

  struct State;
  class Subscription;

 private:
  explicit SharedReader(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// A subscription of `shared` from `starts` if `shared` is set, else a Consumer of its own
// (CreateAssigned under `group_id`, of the partitions in `starts`) starting there: how a
// reader takes either.
[[nodiscard]] StatusOr<std::unique_ptr<RecordSource>> ReadFrom(
    SharedReader* shared, const KafkaOptions& kafka, const std::string& group_id,
    const std::string& topic, const std::vector<PartitionOffset>& starts, bool detachable = false);

}  // namespace payorch::log
