// ProjectionStore: the RocksDB store of the read models (key layout: docs/projection.md).
// Every byte can be rebuilt from the events log (`payorch replay --rebuild DIR`).
//
//   ProjectionStore store;
//   if (Status s = store.Open(dir, {}); !s.ok()) ...
//   Projector projector(&store);
//   for (auto& [p, c] : store.LoadCheckpoints()) projector.Resume(p, c);
//   ... projector.Observe(...) ...
//   if (Status s = store.Write(projector.Flush()); !s.ok()) ...   // one WriteBatch
//   std::string digest = store.Digest();   // read models only, offsets excluded
//
// Errors: Open, Close and Write return a payorch::Status (common/status.h) that keeps
// RocksDB's code as native_code.
//
// Thread safety: reads (Get, Scan, Digest) may run on any thread concurrently with one
// writer thread; a reader sees whole batches only (RocksDB write batches are atomic).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "projection/projector.h"

namespace rocksdb {
class DB;
}

namespace payorch::projection {

struct StoreOptions {
  // Off: every batch goes to the write-ahead log (a killed process loses nothing it
  // wrote). On (rebuilds): faster, and Close() flushes; a crash leaves an older prefix.
  bool disable_wal = false;
  // Opens an existing store for reading only (e.g. a digest of a stopped `payorch serve`).
  bool read_only = false;
  // Rebuilds of a fresh directory: a large Write() is turned into one sorted SST file
  // ingested atomically (no memtable, no WAL; the file is synced before it becomes part
  // of the store), so a crash still leaves the state after some earlier batch. Small
  // writes take the WriteBatch path.
  bool bulk_load = false;
};

class ProjectionStore : public ViewSource {
 public:
  ProjectionStore();
  ~ProjectionStore() override;
  ProjectionStore(const ProjectionStore&) = delete;
  ProjectionStore& operator=(const ProjectionStore&) = delete;

  // Opens or creates the store in `dir` (RocksDB's code kept, common/rocksdb_status.h).
  Status Open(const std::string& dir, StoreOptions options);
  // Flushes the memtable (when the WAL is off) and closes. Idempotent.
  Status Close();

  [[nodiscard]] std::optional<std::string> Get(const std::string& key) const override;
  // Puts every mutation in one atomic WriteBatch (in key order: sorted inserts are cheap for
  // the memtable's skip list). Keys must be distinct.
  [[nodiscard]] Status Write(const std::vector<Mutation>& mutations);

  // Calls fn(key, value) for keys >= start in key order while fn returns true and the key
  // starts with `prefix`.
  void Scan(std::string_view prefix, std::string_view start,
            const std::function<bool(std::string_view, std::string_view)>& fn) const;

  std::map<int32_t, Checkpoint> LoadCheckpoints() const;
  // True if the store holds no record at all (a fresh store).
  [[nodiscard]] bool Empty() const;

  // 32 hex digits: StableHasher over every (key, value) of the read models in key order,
  // checkpoints excluded. Equal for two stores built from the same log prefix.
  [[nodiscard]] std::string Digest() const;

 private:
  [[nodiscard]] Status Ingest(const std::vector<const Mutation*>& sorted);

  std::unique_ptr<rocksdb::DB> db_;
  StoreOptions options_;
  std::string dir_;
  int64_t ingested_files_ = 0;
};

}  // namespace payorch::projection
