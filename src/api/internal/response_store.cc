#include "api/internal/response_store.h"

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/rocksdb_filters.h"
#include "common/rocksdb_status.h"

namespace payorch::api::internal {
namespace {
constexpr char kResponsePrefix[] = "r/";
std::string Key(const std::string& merchant, const std::string& key) {
  std::string k = kResponsePrefix + merchant;
  k.push_back('\0');
  return k + key;
}
// Records are written in a compact binary form: kBinaryFormat, then each field in order,
// strings as a varint length and the bytes, flags as one byte, numbers as varints (the
// status) or zigzag varints (the claim time). Records written before it are JSON objects
// (the first byte '{'); Decode reads both, so a store written by an older build stays
// readable, and its records are rewritten in the new form as they are finished.
constexpr char kBinaryFormat = '\x01';
void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutBytes(std::string* out, std::string_view bytes) {
  PutVarint(out, bytes.size());
  out->append(bytes);
}
bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}
bool GetBytes(std::string_view* in, std::string* out) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}
bool GetFlag(std::string_view* in, bool* flag) {
  if (in->empty()) return false;
  *flag = in->front() != 0;
  in->remove_prefix(1);
  return true;
}
std::string Encode(const StoredResponse& r) {
  std::string out;
  out.reserve(32 + r.request_hash.size() + r.body.size() + r.payment_id.size() +
              r.refund_id.size());
  out.push_back(kBinaryFormat);
  PutBytes(&out, r.request_hash);
  out.push_back(r.final ? 1 : 0);
  PutVarint(&out, static_cast<uint32_t>(r.status));
  PutBytes(&out, r.body);
  PutBytes(&out, r.payment_id);
  out.push_back(r.create ? 1 : 0);
  const auto t = static_cast<uint64_t>(r.created_ms);
  PutVarint(&out, (t << 1) ^ static_cast<uint64_t>(r.created_ms >> 63));  // zigzag
  out.push_back(r.refund ? 1 : 0);
  PutBytes(&out, r.refund_id);
  return out;
}
bool DecodeBinary(std::string_view in, StoredResponse* r) {
  in.remove_prefix(1);  // kBinaryFormat
  uint64_t status = 0;
  uint64_t t = 0;
  if (!GetBytes(&in, &r->request_hash) || !GetFlag(&in, &r->final) || !GetVarint(&in, &status) ||
      !GetBytes(&in, &r->body) || !GetBytes(&in, &r->payment_id) || !GetFlag(&in, &r->create) ||
      !GetVarint(&in, &t) || !GetFlag(&in, &r->refund) || !GetBytes(&in, &r->refund_id))
    return false;
  r->status = static_cast<int>(static_cast<uint32_t>(status));
  r->created_ms = static_cast<int64_t>(t >> 1) ^ -static_cast<int64_t>(t & 1);
  return true;
}
bool DecodeJson(const std::string& bytes, StoredResponse* r) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) return false;
  r->request_hash = j.value("h", "");
  r->final = j.value("f", false);
  r->status = j.value("s", 0);
  r->body = j.value("b", "");
  r->payment_id = j.value("p", "");
  r->create = j.value("c", false);
  r->created_ms = j.value("t", int64_t{0});
  r->refund = j.value("k", false);
  r->refund_id = j.value("d", "");
  return true;
}
bool Decode(const std::string& bytes, StoredResponse* r) {
  if (!bytes.empty() && bytes.front() == kBinaryFormat) return DecodeBinary(bytes, r);
  return DecodeJson(bytes, r);
}
bool Expired(const StoredResponse& r, int64_t now_ms, int64_t window_ms) {
  return r.created_ms + window_ms <= now_ms;
}
// The store's errors are logged where they happen, once, with what was being done.
Status Logged(Status s) {
  if (!s.ok()) spdlog::error("merchant api: response store: {}", s.ToString());
  return s;
}
}  // namespace

ResponseStore::ResponseStore() = default;
ResponseStore::~ResponseStore() = default;

std::mutex& ResponseStore::StripeOf(const std::string& db_key) const {
  return stripes_[std::hash<std::string>{}(db_key) % stripes_.size()];
}

Status ResponseStore::Open(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  // Most claims are of keys never seen: a bloom filter answers those Gets without reading
  // the tables' blocks, and the memtable's own filter without walking its skip list.
  AddMissFilters(&o);
  // Concurrent claims join one write group; on a machine with few cores its followers
  // should sleep until the leader is done, not spin and yield, and the leader inserts
  // the group's few records itself (no parallel memtable writers to wait for).
  o.enable_write_thread_adaptive_yield = false;
  o.allow_concurrent_memtable_write = false;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(o, dir, &db);
  if (!s.ok()) return FromRocksDb(s, "idempotency store " + dir);
  db_.reset(db);
  return Status::Ok();
}

ResponseStore::Claim ResponseStore::TryClaim(const std::string& merchant, const std::string& key,
                                             const StoredResponse& pending,
                                             StoredResponse* existing, int64_t now_ms,
                                             int64_t window_ms) {
  const std::string k = Key(merchant, key);
  std::lock_guard<std::mutex> lock(StripeOf(k));
  std::string bytes;
  const rocksdb::Status got = db_->Get({}, k, &bytes);
  if (!got.ok() && !got.IsNotFound()) {
    Logged(FromRocksDb(got, "read of a claim of " + merchant)).IgnoreError();
    return Claim::kUnavailable;
  }
  if (got.ok() && Decode(bytes, existing) && !Expired(*existing, now_ms, window_ms))
    return Claim::kExisting;
  if (!Logged(FromRocksDb(db_->Put({}, k, Encode(pending)), "claim for " + merchant)).ok())
    return Claim::kUnavailable;
  return Claim::kNew;
}

Status ResponseStore::Finish(const std::string& merchant, const std::string& key,
                             const StoredResponse& r) {
  const std::string k = Key(merchant, key);
  std::lock_guard<std::mutex> lock(StripeOf(k));
  return Logged(FromRocksDb(db_->Put({}, k, Encode(r)), "answer stored for " + merchant));
}

Status ResponseStore::Release(const std::string& merchant, const std::string& key) {
  const std::string k = Key(merchant, key);
  std::lock_guard<std::mutex> lock(StripeOf(k));
  return Logged(FromRocksDb(db_->Delete({}, k), "claim released for " + merchant));
}

int ResponseStore::Sweep(int64_t now_ms, int64_t window_ms, int max_records) {
  std::lock_guard<std::mutex> sweeping(sweep_mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
  it->Seek(sweep_cursor_.empty() ? std::string(kResponsePrefix) : sweep_cursor_);
  int deleted = 0;
  int examined = 0;
  const auto doomed = [&](const std::string& bytes) {
    StoredResponse r;
    return !Decode(bytes, &r) || Expired(r, now_ms, window_ms);
  };
  for (; it->Valid() && examined < max_records; it->Next(), ++examined) {
    if (!it->key().starts_with(kResponsePrefix)) break;
    if (!doomed(it->value().ToString())) continue;
    // The iterator's record may have been claimed again since: decide on the current one,
    // under its key's lock (a claim of the key waits for the delete, then sees it gone).
    const std::string k = it->key().ToString();
    std::lock_guard<std::mutex> lock(StripeOf(k));
    std::string now_bytes;
    if (!db_->Get({}, k, &now_bytes).ok() || !doomed(now_bytes)) continue;
    if (db_->Delete({}, k).ok()) ++deleted;
  }
  // Resume after the last record examined; at the end of the records, start over.
  sweep_cursor_ = it->Valid() && it->key().starts_with(kResponsePrefix) ? it->key().ToString() : "";
  return deleted;
}

Status ResponseStore::PutMetadata(const std::string& payment_id, const std::string& json_text) {
  const std::string k = "m/" + payment_id;
  std::lock_guard<std::mutex> lock(StripeOf(k));
  std::string existing;
  if (db_->Get({}, k, &existing).ok()) return Status::Ok();  // the first wins
  return Logged(FromRocksDb(db_->Put({}, k, json_text), "metadata"));
}

std::string ResponseStore::Metadata(const std::string& payment_id) const {
  std::string bytes;
  if (!db_->Get({}, "m/" + payment_id, &bytes).ok()) return "";
  return bytes;
}

}  // namespace payorch::api::internal
