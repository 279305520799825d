// PartitionReader: reads one partition of one topic from a given offset, without a
// consumer group. For restore folds, the checker, `payorch tail` and replay.
//
// Contract:
// - Records come in offset order, each exactly once, starting at the start offset (or at
//   the low watermark if the start was deleted by retention).
// - ReadUntil(end) delivers every record with offset < end and stops: it terminates even
//   when the last offsets before `end` are not records (transaction markers), and never
//   delivers a record at or past `end`. ReadToEnd() reads to the high watermark as of the
//   call.
// - `fn` gets a Record reused between calls: copy what you keep.
// - Not thread-safe: one thread owns a reader.
//
//   auto reader = PartitionReader::Open(options, events_topic, PartitionId{2}, kOffsetBeginning);
//   StatusOr<Offset> end = reader.value()->ReadToEnd(
//       [&](const Record& r) { state.Fold(r); }, /*timeout_ms=*/30'000);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

// The interface restores, gap checks and followers read through. PartitionReader::Open()
// gives the Kafka reader (the contract above); log/memory_log.h gives an in-memory one.
class PartitionReader {
 public:
  using RecordFn = std::function<void(const Record&)>;

  // `start` is an offset, kOffsetBeginning or kOffsetEnd.
  [[nodiscard]] static StatusOr<std::unique_ptr<PartitionReader>> Open(const KafkaOptions& options,
                                                                       const std::string& topic,
                                                                       PartitionId partition,
                                                                       Offset start);
  PartitionReader() = default;
  virtual ~PartitionReader() = default;
  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;

  // Low and high watermark of any partition (the reader's own by default).
  StatusOr<Watermarks> QueryWatermarks(int timeout_ms = 10'000) {
    return QueryWatermarks(topic(), partition(), timeout_ms);
  }
  virtual StatusOr<Watermarks> QueryWatermarks(const std::string& topic, PartitionId partition,
                                               int timeout_ms) = 0;

  // Calls `fn` for each record from position() up to `end` (exclusive). kUnavailable
  // _TIMED_OUT if `end` is not reached within timeout_ms (position() tells how far it got).
  virtual Status ReadUntil(Offset end, const RecordFn& fn, int timeout_ms) = 0;
  // Reads to the high watermark as of this call; returns it.
  StatusOr<Offset> ReadToEnd(const RecordFn& fn, int timeout_ms);
  // Appends to `out` up to max_records next records, waiting up to timeout_ms for some.
  // For following a partition as it grows.
  virtual Status Poll(size_t max_records, int timeout_ms, std::vector<Record>* out) = 0;

  // The offset of the next record to read.
  virtual Offset position() const = 0;
  virtual Status Seek(Offset offset) = 0;

  virtual const std::string& topic() const = 0;
  virtual PartitionId partition() const = 0;
};

// Where readers and partition counts come from: the Kafka cluster of a KafkaOptions
// (KafkaCluster below) or an in-memory log (log/memory_log.h). The single writer's restore,
// claim and gap check take one, so they run unchanged in the deterministic simulation.
class Cluster {
 public:
  virtual ~Cluster() = default;
  [[nodiscard]] virtual StatusOr<std::unique_ptr<PartitionReader>> OpenReader(
      const std::string& topic, PartitionId partition, Offset start) = 0;
  // The topic's partition count.
  [[nodiscard]] virtual StatusOr<int> PartitionCount(const std::string& topic) = 0;
};

// The Kafka cluster `options` names: PartitionReader::Open and Admin::PartitionCount.
class KafkaCluster final : public Cluster {
 public:
  explicit KafkaCluster(KafkaOptions options) : options_(std::move(options)) {}
  StatusOr<std::unique_ptr<PartitionReader>> OpenReader(const std::string& topic,
                                                        PartitionId partition,
                                                        Offset start) override;
  StatusOr<int> PartitionCount(const std::string& topic) override;
  const KafkaOptions& options() const { return options_; }

 private:
  KafkaOptions options_;
};

}  // namespace payorch::log
