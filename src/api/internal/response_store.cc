#include "api/internal/response_store.h"

#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/rocksdb_status.h"

namespace payorch::api::internal {
namespace {
constexpr char kResponsePrefix[] = "r/";
std::string Key(const std::string& merchant, const std::string& key) {
  std::string k = kResponsePrefix + merchant;
  k.push_back('\0');
  return k + key;
}
std::string Encode(const StoredResponse& r) {
  return nlohmann::json{{"h", r.request_hash}, {"f", r.final},      {"s", r.status},
                        {"b", r.body},         {"p", r.payment_id}, {"c", r.create},
                        {"t", r.created_ms},   {"k", r.refund},     {"d", r.refund_id}}
      .dump();
}
bool Decode(const std::string& bytes, StoredResponse* r) {
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

Status ResponseStore::Open(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
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
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  return Logged(
      FromRocksDb(db_->Put({}, Key(merchant, key), Encode(r)), "answer stored for " + merchant));
}

Status ResponseStore::Release(const std::string& merchant, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return Logged(FromRocksDb(db_->Delete({}, Key(merchant, key)), "claim released for " + merchant));
}

int ResponseStore::Sweep(int64_t now_ms, int64_t window_ms, int max_records) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
  it->Seek(sweep_cursor_.empty() ? std::string(kResponsePrefix) : sweep_cursor_);
  int deleted = 0;
  int examined = 0;
  for (; it->Valid() && examined < max_records; it->Next(), ++examined) {
    if (!it->key().starts_with(kResponsePrefix)) break;
    StoredResponse r;
    if (!Decode(it->value().ToString(), &r) || Expired(r, now_ms, window_ms)) {
      if (db_->Delete({}, it->key()).ok()) ++deleted;
    }
  }
  // Resume after the last record examined; at the end of the records, start over.
  sweep_cursor_ = it->Valid() && it->key().starts_with(kResponsePrefix) ? it->key().ToString() : "";
  return deleted;
}

Status ResponseStore::PutMetadata(const std::string& payment_id, const std::string& json_text) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string existing;
  if (db_->Get({}, "m/" + payment_id, &existing).ok()) return Status::Ok();  // the first wins
  return Logged(FromRocksDb(db_->Put({}, "m/" + payment_id, json_text), "metadata"));
}

std::string ResponseStore::Metadata(const std::string& payment_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string bytes;
  if (!db_->Get({}, "m/" + payment_id, &bytes).ok()) return "";
  return bytes;
}

}  // namespace payorch::api::internal
