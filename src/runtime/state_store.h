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
// (runtime/aggregate_writer.h) store their own envelopes through the encoded form
// (AppendEncoded, ForEachStored), each in its own store directory.
//
// Errors are payorch::Status values (common/status.h); one that RocksDB returned keeps
// RocksDB's code as native_code (common/rocksdb_status.h) and names what was being done.
//
// Thread safety: one writer thread per partition; different partitions may be used from
// different threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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

class StateStore {
 public:
  StateStore();
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Opens or creates the store (and its directory). Writes skip RocksDB's write-ahead log
  // unless `write_ahead_log`: after a crash the store is then an older prefix, which the
  // writers re-fold from the log; a reader whose checkpoint should survive a SIGKILL (the
  // saga, whose re-reads re-send commands) asks for the log.
  [[nodiscard]] Status Open(const std::string& dir, bool write_ahead_log = false);

  PartitionMeta LoadMeta(int32_t partition) const;

  // Stores counted events (already de-duplicated by the caller) and the new meta in one
  // atomic batch. Without the write-ahead log a crash leaves a consistent older prefix.
  [[nodiscard]] Status Append(
      int32_t partition, const std::vector<const ::payments::events::v1::EventEnvelope*>& events,
      const PartitionMeta& meta);

  // Append for any aggregate: events with an empty aggregate_id are skipped.
  [[nodiscard]] Status AppendEncoded(int32_t partition, const std::vector<StoredEvent>& events,
                                     const PartitionMeta& meta);

  // Calls `fn` with each stored event of one aggregate, in sequence order; stops at the first
  // error `fn` returns and returns it. A read error is an error, never a shorter history.
  [[nodiscard]] Status ForEachStored(int32_t partition, const std::string& aggregate_id,
                                     const std::function<Status(std::string_view)>& fn) const;

  // The fold of the stored events of one payment. A payment never seen gives an empty
  // state whose payment_id is set. A read error or a stored event that does not parse
  // (kDataLoss) is an error, never a shorter history: deciding on a truncated state would
  // fork the payment.
  [[nodiscard]] StatusOr<command::PaymentState> LoadPayment(int32_t partition,
                                                            const std::string& payment_id) const;

  // A reader's resume point in the events log (e.g. the connectors'): offset and epoch.
  PartitionMeta LoadCheckpoint(const std::string& reader, int32_t partition) const;
  [[nodiscard]] Status SaveCheckpoint(const std::string& reader, int32_t partition,
                                      const PartitionMeta& meta);

  // Drops everything stored for a partition (e.g. the store is ahead of a truncated log).
  [[nodiscard]] Status ResetPartition(int32_t partition);

 private:
  PartitionMeta LoadMetaKey(const std::string& key) const;
  std::unique_ptr<rocksdb::DB> db_;
  bool write_ahead_log_ = false;
};

}  // namespace payorch::runtime
