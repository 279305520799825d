// Producer: appends records to the log.
//
// Contract:
// - Idempotent (enable.idempotence=true, acks=all): librdkafka's own retries keep one
//   producer's records in order per partition, and a real broker drops the duplicates of
//   retried batches. (The embedded broker does not: see src/log/README.md.)
// - A keyed record without a partition goes where a Java client puts it: the producer
//   places it itself with log/partitioner.h (murmur2), from the topic's partition count
//   (cluster metadata, cached for 30 s), and falls back to librdkafka's murmur2_random
//   only when the count cannot be read. An empty key means "no key" (random partition).
// - Delivery is asynchronous: each record's callback runs exactly once, on the thread
//   that calls Poll(), Flush(), ProduceSync() or Produce() (when the queue is full), with
//   the partition and offset it was written at, or a classified error.
// - Not thread-safe: one thread owns a Producer.
// - Destruction purges records not yet delivered without running their callbacks: call
//   Flush() first.
//
//   auto producer = Producer::Create(options);
//   if (!producer.ok()) return producer.status();
//   Status s = producer.value()->Produce(
//       {.topic = events, .partition = PartitionId{3}, .key = id, .value = bytes},
//       [](const Delivery& d) { if (!d.status.ok()) ...; });
//   s = producer.value()->Poll(0);                             // runs due callbacks
//   StatusOr<Offset> at = producer.value()->ProduceSync(claim, 10'000);  // waits
#pragma once

#include <functional>
#include <memory>

#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

struct Delivery {
  PartitionId partition;
  Offset offset;  // valid when status.ok()
  Status status;  // kAborted when the record may or may not be in the log
};

using DeliveryCallback = std::function<void(const Delivery&)>;

// The interface the runtime appends through. Producer::Create() gives the Kafka producer
// (the contract above); log/memory_log.h gives an in-memory one with fault hooks, for the
// deterministic simulation and unit tests.
class Producer {
 public:
  [[nodiscard]] static StatusOr<std::unique_ptr<Producer>> Create(const KafkaOptions& options);
  Producer() = default;
  virtual ~Producer() = default;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues `record`. On a full local queue, serves delivery callbacks and waits up to 5 s
  // for room, then fails kUnavailable. Fails fatal for an unknown topic or partition.
  virtual Status Produce(const OutRecord& record, DeliveryCallback on_delivery) = 0;
  Status Produce(const OutRecord& record) { return Produce(record, nullptr); }

  // Runs the callbacks of records whose delivery is settled, waiting up to timeout_ms for
  // the first. Fails only when the client hit a fatal error (e.g. fenced idempotent
  // state); then every later Produce fails too.
  virtual Status Poll(int timeout_ms) = 0;

  // Waits until every queued record is settled (callbacks run). kUnavailable on timeout.
  virtual Status Flush(int timeout_ms) = 0;

  // Produces `record` and waits for its delivery: the offset it was written at. On
  // timeout, kAborted: the record may still be written later.
  StatusOr<Offset> ProduceSync(const OutRecord& record, int timeout_ms);

  // Records queued or in flight, not yet settled.
  virtual int InFlight() const = 0;
};

}  // namespace payorch::log
