// Stored responses of POST requests, keyed by (merchant, Idempotency-Key), in RocksDB
// (DATA_DIR/api/responses). A key is claimed (pending) before its command is appended and
// holds the final response once there is one; a repeated key with the same request gets
// that response again, with another request 409. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace rocksdb {
class DB;
}

namespace payorch::api::internal {

struct StoredResponse {
  std::string request_hash;
  bool final = false;
  int status = 0;
  std::string body;
  std::string payment_id;
  bool create = false;  // a POST /v1/payments (answers 201 when it settles)
};

class ResponseStore {
 public:
  ResponseStore();
  ~ResponseStore();
  [[nodiscard]] std::string Open(const std::string& dir);

  enum class Claim { kNew, kExisting };
  // Claims the key with `pending` if it is free; otherwise returns kExisting and the
  // stored record in *existing.
  [[nodiscard]] Claim TryClaim(const std::string& merchant, const std::string& key,
                               const StoredResponse& pending, StoredResponse* existing);
  void Finish(const std::string& merchant, const std::string& key, const StoredResponse& r);
  void Release(const std::string& merchant, const std::string& key);

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex mu_;
};

}  // namespace payorch::api::internal
