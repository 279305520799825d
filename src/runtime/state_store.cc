#include "runtime/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <cstring>
#include <filesystem>

#include "command/aggregate.h"
#include "common/rocksdb_status.h"

namespace payorch::runtime {

namespace ev = ::payments::events::v1;

namespace {

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

// Keys: 'e' partition(4) aggregate_id '\0' sequence(8) -> serialized events envelope
//       'm' partition(4)                                  -> meta (4 x 8 bytes)
std::string AggregatePrefix(int32_t partition, std::string_view aggregate_id) {
  std::string k = "e";
  PutBigEndian(k, static_cast<uint32_t>(partition), 4);
  k += aggregate_id;
  k.push_back('\0');
  return k;
}

// The prefix bloom's prefix of an event key: 'e' partition(4) aggregate_id '\0', the
// AggregatePrefix() that ForEachStored seeks. With it, the Seek for an aggregate the store
// has never seen (every new payment's first command) is answered by the memtables' and
// tables' prefix blooms instead of a search of every level: it was 3 % of `payorch run`'s
// CPU under the merchant API's load on a fresh store and 8 % a minute later
// (docs/performance.md). Meta keys are outside the domain; an id containing '\0' would only
// get a shorter prefix, the same for its keys and its seek, so reads stay exact.
class AggregatePrefixTransform : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "payorch.AggregatePrefix.1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), End(key) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() > kIdAt && key[0] == 'e' && End(key) != nullptr;
  }

 private:
  static constexpr size_t kIdAt = 5;  // after 'e' and the partition
  static const char* End(const rocksdb::Slice& key) {
    return static_cast<const char*>(std::memchr(key.data() + kIdAt, '\0', key.size() - kIdAt));
  }
};

std::string MetaKey(int32_t partition) {
  std::string k = "m";
  PutBigEndian(k, static_cast<uint32_t>(partition), 4);
  return k;
}

// The store's memory, a fixed ceiling (docs/reliability.md, Soak): at most
// kMaxMemtables memtables of kMemtableBytes (RocksDB's default, 2 x 64 MB, filled in
// ~3 minutes at 200 payments/s and kept a soak's RSS climbing for its first 5-6 minutes)
// and a block cache of kBlockCacheBytes for payments read back after their eviction.
// The tables' index blocks live in that cache too: outside it they grow with the store
// (every payment stays on disk), ~7 MB after 360,000 payments.
constexpr size_t kMemtableBytes = 16 << 20;
constexpr int kMaxMemtables = 2;
constexpr size_t kBlockCacheBytes = 16 << 20;

}  // namespace

StateStore::StateStore() = default;
StateStore::~StateStore() {
  // Without the WAL, keep a clean stop's work. If the flush fails, restore re-folds the log.
  if (db_) db_->Flush(rocksdb::FlushOptions()).PermitUncheckedError();
}

Status StateStore::Open(const std::string& dir, bool write_ahead_log) {
  write_ahead_log_ = write_ahead_log;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return FailedPreconditionError("state store " + dir + ": " + ec.message());
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kLZ4Compression;
  options.IncreaseParallelism(2);
  options.write_buffer_size = kMemtableBytes;
  options.max_write_buffer_number = kMaxMemtables;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Partitioned index and filters: a Seek reads one small index partition, not a table's
  // whole index block. With one index block per table, the cache (shared with data blocks)
  // lost them under load and every new payment's Seek re-read and decompressed whole index
  // blocks: 11 % of `payorch run`'s CPU a minute into the merchant API's load
  // (docs/performance.md). Only the top-level index stays pinned; the memory bound holds.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  table.whole_key_filtering = false;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Prefix blooms for ForEachStored's seeks (tables written before this had none: RocksDB
  // reads them without filtering, so old stores stay correct).
  options.prefix_extractor = std::make_shared<AggregatePrefixTransform>();
  options.memtable_prefix_bloom_size_ratio = 0.05;
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(options, dir, &db);
  if (!st.ok()) return FromRocksDb(st, "state store " + dir);
  db_.reset(db);
  return Status::Ok();
}

namespace {
std::string EncodeMeta(const PartitionMeta& meta) {
  std::string m;
  PutBigEndian(m, static_cast<uint64_t>(meta.next_events_offset), 8);
  PutBigEndian(m, static_cast<uint64_t>(meta.last_command_offset), 8);
  PutBigEndian(m, meta.epoch, 8);
  PutBigEndian(m, meta.highest_epoch_seen, 8);
  return m;
}

std::string CheckpointKey(const std::string& reader, int32_t partition) {
  std::string k = "c" + reader;
  k.push_back('\0');
  PutBigEndian(k, static_cast<uint32_t>(partition), 4);
  return k;
}
}  // namespace

PartitionMeta StateStore::LoadCheckpoint(const std::string& reader, int32_t partition) const {
  return LoadMetaKey(CheckpointKey(reader, partition));
}

Status StateStore::SaveCheckpoint(const std::string& reader, int32_t partition,
                                  const PartitionMeta& meta) {
  rocksdb::WriteOptions wo;
  wo.disableWAL = !write_ahead_log_;
  const rocksdb::Status st = db_->Put(wo, CheckpointKey(reader, partition), EncodeMeta(meta));
  if (!st.ok()) {
    return FromRocksDb(st,
                       "state store checkpoint of " + reader + " p" + std::to_string(partition));
  }
  return Status::Ok();
}

PartitionMeta StateStore::LoadMeta(int32_t partition) const {
  return LoadMetaKey(MetaKey(partition));
}

PartitionMeta StateStore::LoadMetaKey(const std::string& key) const {
  PartitionMeta meta;
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), key, &value).ok() && value.size() == 32) {
    meta.next_events_offset = static_cast<int64_t>(GetBigEndian(value.substr(0, 8)));
    meta.last_command_offset = static_cast<int64_t>(GetBigEndian(value.substr(8, 8)));
    meta.epoch = GetBigEndian(value.substr(16, 8));
    meta.highest_epoch_seen = GetBigEndian(value.substr(24, 8));
  }
  return meta;
}

Status EventStore::Append(int32_t partition, const std::vector<const ev::EventEnvelope*>& events,
                          const PartitionMeta& meta) {
  std::vector<std::string> values(events.size());
  std::vector<StoredEvent> stored;
  stored.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    events[i]->SerializeToString(&values[i]);
    stored.push_back({events[i]->payment_id(), events[i]->sequence(), values[i]});
  }
  return AppendEncoded(partition, stored, meta);
}

Status StateStore::AppendEncoded(int32_t partition, const std::vector<StoredEvent>& events,
                                 const PartitionMeta& meta) {
  rocksdb::WriteBatch batch;
  for (const StoredEvent& e : events) {
    if (e.aggregate_id.empty()) continue;  // rejections naming no aggregate change no state
    std::string key = AggregatePrefix(partition, e.aggregate_id);
    PutBigEndian(key, e.sequence, 8);
    batch.Put(key, rocksdb::Slice(e.bytes.data(), e.bytes.size()));
  }
  batch.Put(MetaKey(partition), EncodeMeta(meta));
  rocksdb::WriteOptions wo;
  wo.disableWAL = !write_ahead_log_;
  const rocksdb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) return FromRocksDb(st, "state store append p" + std::to_string(partition));
  return Status::Ok();
}

Status StateStore::ForEachStored(int32_t partition, const std::string& aggregate_id,
                                 const std::function<Status(std::string_view)>& fn) const {
  const std::string prefix = AggregatePrefix(partition, aggregate_id);
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;  // the prefix bloom answers for an aggregate never stored
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (Status s = fn(std::string_view(it->value().data(), it->value().size())); !s.ok()) return s;
  }
  if (!it->status().ok()) return FromRocksDb(it->status(), "state store read of " + aggregate_id);
  return Status::Ok();
}

StatusOr<command::PaymentState> EventStore::LoadPayment(int32_t partition,
                                                        const std::string& payment_id) const {
  command::PaymentState state;
  state.payment_id = payment_id;
  ev::EventEnvelope event;
  Status s = ForEachStored(partition, payment_id, [&](std::string_view bytes) {
    if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return DataLossError("state store: a stored event of " + payment_id + " does not parse");
    }
    command::Evolve(state, event);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return state;
}

Status StateStore::ResetPartition(int32_t partition) {
  std::string begin = "e";
  PutBigEndian(begin, static_cast<uint32_t>(partition), 4);
  std::string end = "e";
  PutBigEndian(end, static_cast<uint32_t>(partition) + 1, 4);
  // Key by key, in batches: Debian's RocksDB 7.8 aborts on an assertion
  // (MemTable::ConstructFragmentedRangeTombstones) when a DeleteRange meets this store's
  // memtables (tests/unit/runtime/event_store_test.cc found it). A reset is rare: the store
  // describes another log.
  constexpr size_t kKeysPerBatch = 10'000;
  const std::string what = "state store reset p" + std::to_string(partition);
  rocksdb::WriteBatch batch;
  rocksdb::ReadOptions every_aggregate;
  every_aggregate.total_order_seek = true;  // across prefixes: no prefix bloom
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(every_aggregate));
  for (it->Seek(begin); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    batch.Delete(it->key());
    if (batch.Count() >= static_cast<int>(kKeysPerBatch)) {
      if (rocksdb::Status st = db_->Write(rocksdb::WriteOptions(), &batch); !st.ok()) {
        return FromRocksDb(st, what);
      }
      batch.Clear();
    }
  }
  if (!it->status().ok()) return FromRocksDb(it->status(), what);
  batch.Delete(MetaKey(partition));
  const rocksdb::Status st = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!st.ok()) return FromRocksDb(st, what);
  return Status::Ok();
}

// MemoryEventStore: the contract above on maps.

PartitionMeta MemoryEventStore::LoadMeta(int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = meta_.find(partition);
  return it == meta_.end() ? PartitionMeta{} : it->second;
}

Status MemoryEventStore::AppendEncoded(int32_t partition, const std::vector<StoredEvent>& events,
                                       const PartitionMeta& meta) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const StoredEvent& e : events) {
    if (e.aggregate_id.empty()) continue;
    events_[{partition, std::string(e.aggregate_id)}][e.sequence] = std::string(e.bytes);
  }
  meta_[partition] = meta;
  return Status::Ok();
}

Status MemoryEventStore::ForEachStored(int32_t partition, const std::string& aggregate_id,
                                       const std::function<Status(std::string_view)>& fn) const {
  std::vector<std::string> copy;  // `fn` runs without the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = events_.find({partition, aggregate_id});
    if (it != events_.end()) {
      for (const auto& [sequence, bytes] : it->second) copy.push_back(bytes);
    }
  }
  for (const std::string& bytes : copy) {
    if (Status s = fn(bytes); !s.ok()) return s;
  }
  return Status::Ok();
}

PartitionMeta MemoryEventStore::LoadCheckpoint(const std::string& reader, int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = checkpoints_.find({reader, partition});
  return it == checkpoints_.end() ? PartitionMeta{} : it->second;
}

Status MemoryEventStore::SaveCheckpoint(const std::string& reader, int32_t partition,
                                        const PartitionMeta& meta) {
  std::lock_guard<std::mutex> lock(mu_);
  checkpoints_[{reader, partition}] = meta;
  return Status::Ok();
}

Status MemoryEventStore::ResetPartition(int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = events_.begin(); it != events_.end();) {
    it = it->first.first == partition ? events_.erase(it) : std::next(it);
  }
  meta_.erase(partition);
  return Status::Ok();
}

}  // namespace payorch::runtime
