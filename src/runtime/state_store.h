// StateStore: the writer's RocksDB cache of what the events log says, so restore reads
// only the log's tail and memory holds only hot payments. Every byte can be rebuilt from
// the events log (delete the directory and restart).
//
//   StateStore store;
//   if (Status s = store.Open(dir); !s.ok()) ...
//   PartitionMeta meta = store.LoadMeta(partition);               // where the fold stopped
//   Status s = store.Append(partition, groups, new_meta);         // one WriteBatch, atomic
//   StatusOr<PaymentState> p = store.LoadPayment(partition, id);  // fold of its events
//
// The payments writer stores EventEnvelopes; the invoice and order writers
// (runtime/aggregate_writer.h) and the saga store their own envelopes through the encoded
// form (AppendEncoded, ForEachStored), each in its own store. Users hold an EventStore*:
// MemoryEventStore is the same contract without a disk.
//
// Errors are payorch::Status values (common/status.h); one that RocksDB returned keeps
// RocksDB's code as native_code (common/rocksdb_status.h) and names what was being done.
//
// Thread safety: one writer thread per partition; different partitions may be used from
// different threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "command/state.h"
#include "common/status.h"
#include "payments/events/v1/events.pb.h"

namespace rocksdb {
class DB;
}

namespace payorch::runtime {

struct PartitionMeta {
  int64_t next_events_offset = 0;    // the events partition was folded up to here
  int64_t last_command_offset = -1;  // causation offset of the last complete group
  uint64_t epoch = 0;                // current epoch at next_events_offset
  uint64_t highest_epoch_seen = 0;
};

// One event of an aggregate as the store keeps it: its serialized envelope under
// (aggregate id, sequence).
struct StoredEvent {
  std::string_view aggregate_id;
  uint64_t sequence = 0;
  std::string_view bytes;
};

// The store every writer and log reader keeps its counted events and resume points in: a
// cache of the log, rebuildable from it. StateStore (RocksDB) in production, MemoryEventStore
// (below) where a test or the simulation wants no disk; one contract suite runs over both
// (tests/unit/runtime/event_store_test.cc).
class EventStore {
 public:
  virtual ~EventStore() = default;

  virtual PartitionMeta LoadMeta(int32_t partition) const = 0;

  // Stores counted events (already de-duplicated by the caller; those with an empty
  // aggregate_id are skipped) and the partition's new meta, atomically.
  [[nodiscard]] virtual Status AppendEncoded(int32_t partition,
                                             const std::vector<StoredEvent>& events,
                                             const PartitionMeta& meta) = 0;

  // Calls `fn` with each stored event of one aggregate, in sequence order; stops at the first
  // error `fn` returns and returns it. A read error is an error, never a shorter history.
  [[nodiscard]] virtual Status ForEachStored(
      int32_t partition, const std::string& aggregate_id,
      const std::function<Status(std::string_view)>& fn) const = 0;

  // A reader's resume point in an events log (e.g. the connectors', the saga's).
  virtual PartitionMeta LoadCheckpoint(const std::string& reader, int32_t partition) const = 0;
  [[nodiscard]] virtual Status SaveCheckpoint(const std::string& reader, int32_t partition,
                                              const PartitionMeta& meta) = 0;

  // Drops the events and the meta stored for a partition (e.g. the store is ahead of a
  // truncated log). Checkpoints are the readers' and stay.
  [[nodiscard]] virtual Status ResetPartition(int32_t partition) = 0;

  // Payments, on the encoded form: Append serializes, LoadPayment folds with command::Evolve.
  // A payment never seen gives an empty state whose payment_id is set. A stored event that
  // does not parse is kDataLoss: deciding on a truncated state would fork the payment.
  [[nodiscard]] Status Append(
      int32_t partition, const std::vector<const ::payments::events::v1::EventEnvelope*>& events,
      const PartitionMeta& meta);
  [[nodiscard]] StatusOr<command::PaymentState> LoadPayment(int32_t partition,
                                                            const std::string& payment_id) const;
};

// RocksDB.
class StateStore final : public EventStore {
 public:
  StateStore();
  ~StateStore() override;
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Opens or creates the store (and its directory). Writes skip RocksDB's write-ahead log
  // unless `write_ahead_log`: after a crash the store is then an older prefix, which the
  // writers re-fold from the log; a reader whose checkpoint should survive a SIGKILL (the
  // saga, whose re-reads re-send commands) asks for the log.
  [[nodiscard]] Status Open(const std::string& dir, bool write_ahead_log = false);

  PartitionMeta LoadMeta(int32_t partition) const override;
  [[nodiscard]] Status AppendEncoded(int32_t partition, const std::vector<StoredEvent>& events,
                                     const PartitionMeta& meta) override;
  [[nodiscard]] Status ForEachStored(
      int32_t partition, const std::string& aggregate_id,
      const std::function<Status(std::string_view)>& fn) const override;
  PartitionMeta LoadCheckpoint(const std::string& reader, int32_t partition) const override;
  [[nodiscard]] Status SaveCheckpoint(const std::string& reader, int32_t partition,
                                      const PartitionMeta& meta) override;
  [[nodiscard]] Status ResetPartition(int32_t partition) override;

 private:
  PartitionMeta LoadMetaKey(const std::string& key) const;
  std::unique_ptr<rocksdb::DB> db_;
  bool write_ahead_log_ = false;
};

// In memory, for tests and the simulation: the same contract, nothing survives the object.
// Thread-safe like StateStore (one writer per partition; any thread may read).
class MemoryEventStore final : public EventStore {
 public:
  PartitionMeta LoadMeta(int32_t partition) const override;
  [[nodiscard]] Status AppendEncoded(int32_t partition, const std::vector<StoredEvent>& events,
                                     const PartitionMeta& meta) override;
  [[nodiscard]] Status ForEachStored(
      int32_t partition, const std::string& aggregate_id,
      const std::function<Status(std::string_view)>& fn) const override;
  PartitionMeta LoadCheckpoint(const std::string& reader, int32_t partition) const override;
  [[nodiscard]] Status SaveCheckpoint(const std::string& reader, int32_t partition,
                                      const PartitionMeta& meta) override;
  [[nodiscard]] Status ResetPartition(int32_t partition) override;

 private:
  mutable std::mutex mu_;
  // (partition, aggregate id) -> sequence -> bytes
  std::map<std::pair<int32_t, std::string>, std::map<uint64_t, std::string>> events_;
  std::map<int32_t, PartitionMeta> meta_;
  std::map<std::pair<std::string, int32_t>, PartitionMeta> checkpoints_;
};

}  // namespace payorch::runtime
