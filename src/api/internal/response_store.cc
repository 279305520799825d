#include "api/internal/response_store.h"

#include <rocksdb/db.h>

#include <nlohmann/json.hpp>

namespace payorch::api::internal {
namespace {
std::string Key(const std::string& merchant, const std::string& key) {
  std::string k = "r/" + merchant;
  k.push_back('\0');
  return k + key;
}
std::string Encode(const StoredResponse& r) {
  return nlohmann::json{{"h", r.request_hash}, {"f", r.final},      {"s", r.status},
                        {"b", r.body},         {"p", r.payment_id}, {"c", r.create}}
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
  return true;
}
}  // namespace

ResponseStore::ResponseStore() = default;
ResponseStore::~ResponseStore() = default;

std::string ResponseStore::Open(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(o, dir, &db);
  if (!s.ok()) return "idempotency store " + dir + ": " + s.ToString();
  db_.reset(db);
  return "";
}

ResponseStore::Claim ResponseStore::TryClaim(const std::string& merchant, const std::string& key,
                                             const StoredResponse& pending,
                                             StoredResponse* existing) {
  const std::string k = Key(merchant, key);
  std::lock_guard<std::mutex> lock(mu_);
  std::string bytes;
  if (db_->Get({}, k, &bytes).ok() && Decode(bytes, existing)) return Claim::kExisting;
  (void)db_->Put({}, k, Encode(pending));
  return Claim::kNew;
}

void ResponseStore::Finish(const std::string& merchant, const std::string& key,
                           const StoredResponse& r) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)db_->Put({}, Key(merchant, key), Encode(r));
}

void ResponseStore::Release(const std::string& merchant, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)db_->Delete({}, Key(merchant, key));
}

}  // namespace payorch::api::internal
