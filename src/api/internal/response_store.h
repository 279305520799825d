// Stored responses of POST requests, keyed by (merchant, Idempotency-Key), in RocksDB
// (DATA_DIR/api/responses). A key is claimed (pending) before its command is appended and
// holds the final response once there is one; a repeated key with the same request gets
// that response again, with another request 409. A record is kept for the idempotency
// window after its claim (`created_ms`); after that the key is free again (TryClaim treats
// an expired record as absent) and Sweep deletes it. The same database keeps each
// payment's metadata as the merchant sent it (`m/<payment id>`, never expired: it is part
// of the object). Thread-safe: a key's check-and-write is atomic under one of kStripes
// locks (chosen by the key), so requests for different keys write concurrently and
// RocksDB commits their WAL records together.
//
// Errors: a read or write that RocksDB refuses is logged here (spdlog, with the key's
// merchant) and returned; TryClaim answers kUnavailable, and the API then answers 503
// before appending anything. A failed Finish or Release leaves the claim pending: a repeat
// of the request is answered from the payment as it is then (never a second command).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"

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
  bool create = false;     // a POST /v1/payments (answers 201 when it settles)
  int64_t created_ms = 0;  // when the key was claimed (records from before: 0, expired)
  bool refund = false;     // a POST /v1/refunds (answers the Refund object)
  std::string refund_id;   // its core refund id, once the writer named it
};

class ResponseStore {
 public:
  ResponseStore();
  ~ResponseStore();
  [[nodiscard]] Status Open(const std::string& dir);

  enum class Claim { kNew, kExisting, kUnavailable };
  // Claims the key with `pending` if it is free or its record is older than `window_ms`
  // at `now_ms`; otherwise returns kExisting and the stored record in *existing.
  // kUnavailable: the store could not be read or written (logged); nothing was claimed.
  [[nodiscard]] Claim TryClaim(const std::string& merchant, const std::string& key,
                               const StoredResponse& pending, StoredResponse* existing,
                               int64_t now_ms, int64_t window_ms);
  Status Finish(const std::string& merchant, const std::string& key, const StoredResponse& r);
  Status Release(const std::string& merchant, const std::string& key);

  // Deletes records older than `window_ms` at `now_ms`, examining at most `max_records`
  // records from where the previous call stopped (wrapping around at the end). Returns the
  // number deleted. Bounded work per call: call it periodically.
  int Sweep(int64_t now_ms, int64_t window_ms, int max_records);

  // The metadata of a payment as sent at creation (a JSON object's text), "" if none. The
  // first PutMetadata of a payment id wins (a repeated create cannot change it).
  Status PutMetadata(const std::string& payment_id, const std::string& json_text);
  [[nodiscard]] std::string Metadata(const std::string& payment_id) const;

 private:
  static constexpr size_t kStripes = 64;
  std::mutex& StripeOf(const std::string& db_key) const;
  std::unique_ptr<rocksdb::DB> db_;
  mutable std::array<std::mutex, kStripes> stripes_;
  std::mutex sweep_mu_;  // the sweep's cursor; one sweep at a time
  std::string sweep_cursor_;
};

}  // namespace payorch::api::internal
