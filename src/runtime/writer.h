// PartitionWriter: the single writer of one partition. It restores what the events log
// says (RocksDB cache + the partition's tail), claims the partition with a WriterClaimed
// record of a higher epoch, then decides commands in offset order and hands their events
// to the outbox. It never talks to gateways.
//
//   PartitionWriter writer(partition, deps);
//   auto start = writer.Start();            // restore + claim; the next command offset
//   for (record : commands of partition)  writer.Handle(record);
//   producer.Poll(0);                        // delivery callbacks
//   writer.Persist();                        // delivered groups -> RocksDB
//
// Not thread-safe: owned by the writer thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "command/aggregate.h"
#include "command/validity.h"
#include "log/options.h"
#include "log/partition_reader.h"
#include "log/producer.h"
#include "log/record.h"
#include "metrics/runtime_metrics.h"
#include "outbox/event_outbox.h"
#include "runtime/admission.h"
#include "runtime/command_writer.h"
#include "runtime/started_handoff.h"
#include "runtime/state_store.h"

namespace spdlog {
class logger;
}

namespace payorch::runtime {

// The payment writers' cache bound of one process: at most `total` payment states in memory
// across the partitions it owns, split evenly (each partition's writer keeps at most
// total / owned, at least 1). The payments writer loop sets `owned` as partitions come and
// go; a writer made outside it (tests) keeps `total`. A state is ~1.6 KB, and unsettled
// payments (created, never confirmed) stay cached until evicted, so without a process-wide
// bound a flood of them held total x partitions states.
class CacheBudget {
 public:
  explicit CacheBudget(size_t total) : total_(std::max<size_t>(total, 1)) {}
  void SetOwnedPartitions(size_t owned) { owned_.store(std::max<size_t>(owned, 1)); }
  size_t per_partition() const { return std::max<size_t>(total_ / owned_.load(), 1); }

 private:
  const size_t total_;
  std::atomic<size_t> owned_{1};
};

struct WriterProbe {
  uint64_t commands = 0;
  uint64_t events = 0;
  uint64_t rejected = 0;
  uint64_t dead_letters = 0;
  uint64_t fenced = 0;
  uint64_t restored_events = 0;
  int64_t last_restore_ms = 0;
  int64_t last_restore_records = 0;  // event records folded by the last restore
};

struct WriterDeps {
  const log::KafkaOptions* kafka = nullptr;  // topic names
  log::Cluster* cluster = nullptr;           // restore and gap reads, partition counts
  log::Producer* producer = nullptr;
  outbox::EventOutbox* outbox = nullptr;
  EventStore* store = nullptr;
  const command::PlanBuilder* plans = nullptr;
  std::string writer_id;
  std::shared_ptr<spdlog::logger> logger;
  WriterProbe* probe = nullptr;
  const CacheBudget* cache = nullptr;          // required
  metrics::RuntimeMetrics* metrics = nullptr;  // optional: /metrics probes
  const Admission* admission = nullptr;        // optional: new payments refused when overloaded
  // Optional: acknowledged *Started events for the connector loop of this process.
  StartedHandoff* handoff = nullptr;
};

class PartitionWriter final : public CommandWriter {
 public:
  PartitionWriter(int32_t partition, WriterDeps deps);

  [[nodiscard]] std::variant<int64_t, std::string> Start() override;
  [[nodiscard]] std::string Handle(const log::Record& record) override;
  // Also evicts settled payments.
  [[nodiscard]] std::string Persist() override;
  bool fenced() const override { return fenced_; }
  void Retire() override { fenced_ = true; }
  bool Quiescent() const override { return reports_.use_count() == 1; }
  int64_t persisted_command_offset() const override { return persisted_command_offset_; }

  const std::string& failure() const { return failure_; }
  // Payment states in memory now (at most the CacheBudget's share after each Persist, less
  // those with undelivered events).
  size_t cached_payments() const { return cache_.size(); }
  uint64_t epoch() const { return epoch_; }
  int32_t partition() const { return partition_; }

 private:
  struct DeliveredGroup {
    int64_t command_offset = 0;
    int64_t decided_at_ms = 0;
    metrics::PaymentFacts payment;
    std::vector<::payments::events::v1::EventEnvelope> events;
  };

  // Folds one events record during restore or a gap check.
  void Fold(const log::Record& record, std::vector<::payments::events::v1::EventEnvelope>& out);
  [[nodiscard]] Status FlushRestored(std::vector<::payments::events::v1::EventEnvelope>& out);
  void CheckGap(int64_t from, int64_t to);
  // Offers the group's acknowledged *Started events to deps_.handoff (runtime/started_handoff.h).
  void HandOff(const DeliveredGroup& group, const std::vector<int64_t>& offsets);
  // The payment's state, from the cache or the store; nullptr (and failure_ set) if the
  // store cannot give all of it.
  command::PaymentState* StateFor(const std::string& payment_id);
  void DeadLetter(const log::Record& record, const std::string& reason,
                  ::payments::events::v1::RejectReason reject_reason,
                  const std::string& payment_id);
  void PublishViolation(const std::string& contract_id, const std::string& payment_id,
                        const std::string& merchant_id, const std::string& detail, int64_t offset);
  // `payment`: the state the events left (null for events of no payment), for metrics.
  [[nodiscard]] std::string Publish(int64_t command_offset,
                                    std::vector<::payments::events::v1::EventEnvelope> events,
                                    const std::string& fallback_key,
                                    const command::PaymentState* payment = nullptr);

  const int32_t partition_;
  int32_t command_partitions_ = 0;  // the commands topic's width (0: unknown, not checked)
  WriterDeps deps_;
  command::EpochFilter filter_;
  command::CommandGroups groups_;
  int64_t last_claim_offset_ = -1;
  int64_t next_events_offset_ = 0;  // the events partition is known up to here
  uint64_t epoch_ = 0;
  bool fenced_ = false;
  // Held by every pending delivery callback (they capture `this`): one owner left means
  // none can still call back (Quiescent).
  std::shared_ptr<int> reports_ = std::make_shared<int>(0);
  std::string failure_;
  int64_t persisted_command_offset_ = 0;

  std::unordered_map<std::string, command::PaymentState> cache_;
  std::unordered_map<std::string, int> in_flight_;  // unpersisted groups per payment
  std::vector<DeliveredGroup> delivered_;
  std::vector<::payments::events::v1::EventEnvelope> scratch_;
  metrics::EventObserver observer_;
};

}  // namespace payorch::runtime
