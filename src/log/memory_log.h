// MemoryLog: an in-memory log behind the same interfaces as Kafka (log::Cluster for readers
// and partition counts, log::Producer for appends), with fault hooks, so the production
// writer and the connectors' bookkeeping run unchanged in the deterministic simulation
// (tests/simulation) and in unit tests, with no broker and no threads.
//
//   MemoryLog log(options);                      // payorch's topics, options.partitions wide
//   std::unique_ptr<Producer> p = log.NewProducer();
//   p->Produce({.topic = t, .key = "pay_1", .value = bytes}, on_delivery);  // queued
//   log.PushProduceFaults({ProduceFault::kInDoubtWritten});  // the next settled record
//   p->Poll(0);                                  // settles every queued record, in order
//   auto reader = log.OpenReader(t, PartitionId{0}, kOffsetBeginning);
//
// Semantics, as far as payorch relies on Kafka's:
// - Appends get consecutive offsets per partition from 0; a record without a partition goes
//   where the Kafka producer puts it (log/partitioner.h, murmur2 of the key).
// - A producer's records are queued by Produce() and settled, in order, by Poll(), Flush()
//   or ProduceSync(): that is when they enter the log (or, under a fault, do not) and when
//   their callbacks run. A producer dropped before settling loses its queue (a crash).
// - Faults, applied to the next settled records of any producer, one each, in order:
//   kRefused (not written; delivery fails kUnavailable), kInDoubtWritten (written; delivery
//   fails kAborted, as a timed-out request that took effect), kInDoubtLost (not written;
//   kAborted), kDuplicated (written twice, delivery ok: a retried batch the broker did not
//   de-duplicate). A producer is a gapless series (payorch's writers configure librdkafka
//   so, runtime/internal/partition_log.h): after a record that was not written, every later
//   record of that producer fails unwritten (kAborted _GAPLESS_GUARANTEE). While the log is
//   down, Produce() queues but settling fails every record kUnavailable unwritten, and
//   readers' reads fail kUnavailable.
// - Readers never wait: a ReadUntil past the high watermark returns kUnavailable _TIMED_OUT
//   once the available records are read.
// - Unbounded (tests only), not thread-safe: one thread owns the log, its producers and
//   readers, and the log must outlive them.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "log/options.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "log/record.h"

namespace payorch::log {

enum class ProduceFault { kNone, kRefused, kInDoubtWritten, kInDoubtLost, kDuplicated };

class MemoryProducer;  // memory_log.cc

class MemoryLog final : public Cluster {
 public:
  // Creates every payorch topic of `options` (kAllTopicKinds), options.partitions wide.
  explicit MemoryLog(const KafkaOptions& options);
  ~MemoryLog() override;
  MemoryLog(const MemoryLog&) = delete;
  MemoryLog& operator=(const MemoryLog&) = delete;

  void CreateTopic(const std::string& topic, int partitions);

  // Appends at once, as another process's producer would (upstream commands); returns the
  // offset, or -1 for an unknown topic or partition.
  int64_t Append(const OutRecord& record, int64_t timestamp_ms = -1);

  // The records of a partition (empty for an unknown one).
  const std::vector<Record>& Records(const std::string& topic, PartitionId partition) const;

  [[nodiscard]] std::unique_ptr<Producer> NewProducer();
  // Timestamps of records appended by producers (the producer's create time).
  void SetTime(int64_t now_ms) { now_ms_ = now_ms; }

  void PushProduceFaults(const std::vector<ProduceFault>& faults);
  size_t pending_faults() const { return faults_.size(); }
  void ClearProduceFaults() { faults_.clear(); }
  void SetDown(bool down) { down_ = down; }
  bool down() const { return down_; }

  StatusOr<std::unique_ptr<PartitionReader>> OpenReader(const std::string& topic,
                                                        PartitionId partition,
                                                        Offset start) override;
  StatusOr<int> PartitionCount(const std::string& topic) override;

 private:
  friend class MemoryProducer;
  // Settles one record of a producer: its fault, if any, then the append.
  Delivery Settle(const OutRecord& record);

  std::vector<Record>* Find(const std::string& topic, int32_t partition);
  // Where `record` goes: its partition, or the key's (murmur2); -1 for an unknown topic.
  int32_t PartitionOf(const OutRecord& record) const;

  std::map<std::string, std::vector<std::vector<Record>>> topics_;
  std::deque<ProduceFault> faults_;
  bool down_ = false;
  int64_t now_ms_ = -1;
};

}  // namespace payorch::log
