#include "projection/store.h"

#include <rocksdb/db.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "command/hash.h"
#include "common/rocksdb_filters.h"
#include "common/rocksdb_status.h"
#include "projection/internal/keys.h"

namespace payorch::projection {

namespace {

// Writes smaller than this take the WriteBatch path even in bulk_load mode (an SST file
// per tiny batch would only add files).
constexpr size_t kMinIngestRecords = 4096;

rocksdb::Options BaseOptions(const StoreOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = !options.read_only;
  o.compression = rocksdb::kLZ4Compression;
  o.write_buffer_size = 64 << 20;
  o.max_background_jobs = 2;
  // A new payment's view is a Get that misses: the filters answer it without a search of
  // the 64 MB memtable's skip list or the tables' blocks.
  AddMissFilters(&o);
  return o;
}

}  // namespace

ProjectionStore::ProjectionStore() = default;

// A destructor cannot report; Close() is called before it on a
// clean stop, and an unflushed store is rebuilt from the log.
ProjectionStore::~ProjectionStore() { Close().IgnoreError(); }

Status ProjectionStore::Open(const std::string& dir, StoreOptions options) {
  options_ = options;
  dir_ = dir;
  rocksdb::Options o = BaseOptions(options);
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = options.read_only ? rocksdb::DB::OpenForReadOnly(o, dir, &db)
                                         : rocksdb::DB::Open(o, dir, &db);
  if (!st.ok()) return FromRocksDb(st, "projection store " + dir);
  db_.reset(db);
  return Status::Ok();
}

Status ProjectionStore::Close() {
  if (!db_) return Status::Ok();
  Status s;
  if (options_.disable_wal && !options_.read_only) {
    s = FromRocksDb(db_->Flush(rocksdb::FlushOptions()), "projection store flush");
  }
  db_.reset();
  return s;
}

std::optional<std::string> ProjectionStore::Get(const std::string& key) const {
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), key, &value).ok()) return value;
  return std::nullopt;
}

Status ProjectionStore::Write(const std::vector<Mutation>& mutations) {
  if (mutations.empty()) return Status::Ok();
  std::vector<const Mutation*> sorted;
  sorted.reserve(mutations.size());
  size_t bytes = 0;
  for (const Mutation& m : mutations) {
    sorted.push_back(&m);
    bytes += m.key.size() + m.value.size() + 8;
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Mutation* a, const Mutation* b) { return a->key < b->key; });
  // A key given twice keeps its last value, as consecutive puts would.
  // (unique over the reversed range keeps each run's last and packs them at the back.)
  auto kept = std::unique(sorted.rbegin(), sorted.rend(),
                          [](const Mutation* a, const Mutation* b) { return a->key == b->key; });
  sorted.erase(sorted.begin(), kept.base());
  if (options_.bulk_load && sorted.size() >= kMinIngestRecords) return Ingest(sorted);
  rocksdb::WriteBatch batch(bytes + 64);
  for (const Mutation* m : sorted) batch.Put(m->key, m->value);
  rocksdb::WriteOptions wo;
  wo.disableWAL = options_.disable_wal;
  const rocksdb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) {
    return FromRocksDb(st,
                       "projection store write of " + std::to_string(sorted.size()) + " records");
  }
  return Status::Ok();
}

Status ProjectionStore::Ingest(const std::vector<const Mutation*>& sorted) {
  const std::string path = dir_ + "/ingest-" + std::to_string(ingested_files_++) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), BaseOptions(options_));
  rocksdb::Status st = writer.Open(path);
  for (size_t i = 0; st.ok() && i < sorted.size(); ++i) {
    st = writer.Put(sorted[i]->key, sorted[i]->value);
  }
  if (st.ok()) st = writer.Finish();
  if (st.ok()) {
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;
    st = db_->IngestExternalFile({path}, io);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!st.ok()) return FromRocksDb(st, "projection store ingest of " + path);
  return Status::Ok();
}

void ProjectionStore::Scan(
    std::string_view prefix, std::string_view start,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string_view from = start < prefix ? prefix : start;
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const std::string_view key(k.data(), k.size());
    if (key.substr(0, prefix.size()) != prefix) break;
    const rocksdb::Slice v = it->value();
    if (!fn(key, std::string_view(v.data(), v.size()))) break;
  }
}

std::map<int32_t, Checkpoint> ProjectionStore::LoadCheckpoints() const {
  std::map<int32_t, Checkpoint> out;
  const std::string_view prefix = internal::kCheckpointPrefix;
  Scan(prefix, prefix, [&](std::string_view key, std::string_view value) {
    std::optional<Checkpoint> c = DecodeCheckpoint(value);
    if (c) out[std::atoi(std::string(key.substr(prefix.size())).c_str())] = *c;
    return true;
  });
  return out;
}

bool ProjectionStore::Empty() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  return !it->Valid();
}

std::string ProjectionStore::Digest() const {
  StableHasher hasher;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, internal::kCheckpointPrefix.size()) == internal::kCheckpointPrefix) continue;
    hasher.Add(key).Add(std::string_view(it->value().data(), it->value().size()));
  }
  return hasher.Hex();
}

}  // namespace payorch::projection
