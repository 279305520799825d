// Consumer: a member of a consumer group reading one topic, for the single-writer
// runtime. The group decides which member owns which partition; the member decides where
// each partition starts (from its own restored state), and commits explicitly.
//
// Contract:
// - enable.auto.commit=false, auto.offset.reset=earliest, eager 'range' assignment by
//   default (a cooperative assignor given with -X also works: callbacks then carry only
//   the partitions that change).
// - Create() joins as a static member (group.instance.id) when
//   KafkaOptions::group_instance_id is set; CreateAssigned() never joins, so never does.
// - The listener runs on the polling thread, inside PollBatch() or Close(). OnAssigned
//   returns the start offset of each new partition; partitions it leaves out start at the
//   group's committed offset (else the beginning). OnAssigned may take its time (fold the
//   log) as long as it returns within max.poll.interval.ms.
// - After OnRevoked, no record of a revoked partition is returned, and commits for it
//   fail kAborted.
// - Not thread-safe: one thread owns a Consumer.
//
//   class Runtime : public RebalanceListener {
//     std::vector<PartitionOffset> OnAssigned(const std::vector<PartitionId>& ps) override {
//       std::vector<PartitionOffset> starts;
//       for (PartitionId p : ps) starts.push_back({p, RestoreWriter(p)});  // next command
//       return starts;
//     }
//     void OnRevoked(const std::vector<PartitionId>& ps, bool lost) override { ... }
//   };
//   auto consumer = Consumer::Create(options, "payorch.writers", commands_topic, &runtime);
//   std::vector<Record> batch;
//   Status s = consumer.value()->PollBatch(1000, 100, &batch);
//   s = consumer.value()->Commit(batch.back().partition, Offset{batch.back().offset.value() + 1});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "log/options.h"
#include "log/record.h"
#include "log/status.h"

namespace payorch::log {

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // `partitions` were assigned to this member. Returns where each starts: an offset,
  // kOffsetCommitted, kOffsetBeginning or kOffsetEnd.
  virtual std::vector<PartitionOffset> OnAssigned(const std::vector<PartitionId>& partitions) = 0;
  // `partitions` are no longer this member's. `lost` is true when they were taken without
  // a clean hand-over (session timeout): another member may already own them.
  virtual void OnRevoked(const std::vector<PartitionId>& partitions, bool lost) = 0;
};

// The listener of a consumer that starts where its owner says (its own checkpoints) rather
// than at the group's commits: each assigned partition at the offset listed for it, or at the
// beginning when none is. Revocations change nothing. Shared by every CreateAssigned user.
class StartAt final : public RebalanceListener {
 public:
  StartAt() = default;  // every partition from the beginning
  explicit StartAt(std::vector<PartitionOffset> starts) : starts_(std::move(starts)) {}
  std::vector<PartitionOffset> OnAssigned(const std::vector<PartitionId>& partitions) override;
  void OnRevoked(const std::vector<PartitionId>&, bool) override {}

 private:
  std::vector<PartitionOffset> starts_;
};

// What a reader of records polls: a Consumer, or a SharedReader's subscription.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Appends up to max_records records to `out`, waiting up to timeout_ms for the first.
  virtual Status PollBatch(size_t max_records, int timeout_ms, std::vector<Record>* out) = 0;
};

class Consumer final : public RecordSource {
 public:
  // Joins `group_id` and subscribes to `topic`. `listener` must outlive the Consumer.
  [[nodiscard]] static StatusOr<std::unique_ptr<Consumer>> Create(const KafkaOptions& options,
                                                                  const std::string& group_id,
                                                                  const std::string& topic,
                                                                  RebalanceListener* listener);
  // No group membership: owns exactly `partitions` from the start (the listener's
  // OnAssigned runs once, inside this call, and OnRevoked never). `group_id` is used for
  // commits only. For a fixed deployment where the writers' fencing, not the group,
  // guarantees a single writer, and for fast restarts on the embedded broker, whose group
  // joins wait for a dead member's session to expire.
  [[nodiscard]] static StatusOr<std::unique_ptr<Consumer>> CreateAssigned(
      const KafkaOptions& options, const std::string& group_id, const std::string& topic,
      const std::vector<PartitionId>& partitions, RebalanceListener* listener);
  // Create() when `static_partitions` is empty, else CreateAssigned() of exactly those: how
  // payorch's loops take either their group's partitions or a fixed `--assign` list.
  [[nodiscard]] static StatusOr<std::unique_ptr<Consumer>> CreateMember(
      const KafkaOptions& options, const std::string& group_id, const std::string& topic,
      const std::vector<int32_t>& static_partitions, RebalanceListener* listener);
  ~Consumer() override;  // Close()s if not closed
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Appends up to max_records records to `out`, waiting up to timeout_ms for the first
  // batch. Runs rebalance callbacks. Fails when the client is unusable (fatal) or a
  // rebalance could not be applied.
  Status PollBatch(size_t max_records, int timeout_ms, std::vector<Record>* out) override;

  // Commits `next_offset` (the offset of the next record to process) of each partition
  // and waits for the answer. kAborted if this member no longer owns a partition.
  Status Commit(const std::vector<PartitionOffset>& next_offsets);
  Status Commit(PartitionId partition, Offset next_offset);
  // Same, without waiting; a failure is logged and a later commit supersedes it.
  Status CommitAsync(const std::vector<PartitionOffset>& next_offsets);
  // The group's committed next offset for `partition`, or kOffsetCommitted if none.
  StatusOr<Offset> Committed(PartitionId partition, int timeout_ms);

  // Moves an assigned partition's read position.
  Status Seek(PartitionId partition, Offset offset, int timeout_ms);
  Status Pause(PartitionId partition);
  Status Resume(PartitionId partition);

  // The partitions this member owns now.
  std::vector<PartitionId> Assignment() const;
  const std::string& topic() const;

  // Leaves the group (OnRevoked runs for the owned partitions). Idempotent.
  Status Close();

  struct Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  // The client both factories share; `group_member` installs the rebalance callback.
  static StatusOr<std::unique_ptr<Impl>> NewImpl(const KafkaOptions& options,
                                                 const std::string& group_id,
                                                 const std::string& topic,
                                                 RebalanceListener* listener, bool group_member);
  std::unique_ptr<Impl> impl_;
};

}  // namespace payorch::log
