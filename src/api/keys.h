// API keys of the merchant API: each key belongs to exactly one merchant, is shown once at
// creation, and is stored only as an argon2id hash.
//
// Storage: DATA_DIR/api/keys.jsonl, an append-only JSON-lines file that is both the key
// store and the audit log of key operations (create, rotate, revoke: who, when, which key).
// The current keys are the fold of the file; nothing is ever rewritten. Writers take an
// exclusive flock, so `payorch keys` may run while the API serves; the server re-reads the
// file when it changes (checked at most once a second).
//
// A key reads "pk_<key id: 16 hex>_<secret: 64 hex>". Verification looks the key id up and
// checks the secret with argon2id (t=2, m=19 MiB, p=1: tens of milliseconds). An unknown
// key id makes the verifier look at the file again at once (a stat; it re-reads it only if
// it changed), so a new key works immediately. KeyVerifier
// then caches "key id -> SHA-256 of the secret, merchant" for key_cache_ttl_ms, so only the
// first request of a key (per TTL) pays for argon2; a revoked key stops working at the
// next re-read of the file, whatever the cache holds.
//
//   KeyStore store(dir + "/api/keys.jsonl", &clock);
//   auto created = store.Create("m_shop", "alice");     // created->secret shown once
//   KeyVerifier verifier(&store, {.ttl_ms = 60'000}, &clock);
//   std::optional<Principal> who = verifier.Verify(bearer);   // nullopt: 401
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace payorch::api {

// Fills a buffer with cryptographically random bytes (getrandom by default).
using RandomFn = std::function<void(unsigned char* out, size_t n)>;
void SystemRandom(unsigned char* out, size_t n);

struct ApiKeyRecord {
  std::string key_id;
  std::string merchant_id;
  std::string hash;  // argon2id encoded
  int64_t created_at_ms = 0;
  bool revoked = false;
  int64_t revoked_at_ms = 0;
  std::string replaced_by;  // set by rotate
};

struct CreatedKey {
  std::string key_id;
  std::string secret;  // the whole presented key, "pk_<id>_<secret>"
};

// The merchant a verified key acts for.
struct Principal {
  std::string key_id;
  std::string merchant_id;
};

// Aggregated authentication outcomes of one key id over a window (the key audit's usage
// records). Unknown key ids and malformed keys are counted together under key id
// "unknown", so the records stay bounded by the number of keys.
struct KeyUsage {
  std::string key_id;
  std::string merchant_id;
  int64_t uses = 0;      // requests authenticated with the key
  int64_t failures = 0;  // wrong secret, revoked key, unknown id, malformed key
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

class KeyStore {
 public:
  KeyStore(std::string path, const Clock* clock, RandomFn random = SystemRandom);

  // Creates a key for `merchant_id`. `actor` is written to the audit log.
  [[nodiscard]] std::optional<CreatedKey> Create(const std::string& merchant_id,
                                                 const std::string& actor, std::string* error);
  // Revokes `key_id` (of `merchant_id`) and creates its replacement.
  [[nodiscard]] std::optional<CreatedKey> Rotate(const std::string& merchant_id,
                                                 const std::string& key_id,
                                                 const std::string& actor, std::string* error);
  // "" or why not (unknown key, another merchant's key, already revoked).
  [[nodiscard]] std::string Revoke(const std::string& merchant_id, const std::string& key_id,
                                   const std::string& actor);
  // Keys of `merchant_id` ("" = all), oldest first, from the file as it is now.
  [[nodiscard]] std::vector<ApiKeyRecord> List(const std::string& merchant_id) const;
  // The fold of the file, and a token that changes when the file does (size, mtime).
  [[nodiscard]] std::map<std::string, ApiKeyRecord> Load() const;
  [[nodiscard]] std::string Version() const;

  // Appends usage records to DIR/api/key_usage.jsonl (kept apart from the keys so that
  // it never makes servers re-read them). The file is rotated to key_usage.jsonl.1 when it
  // passes kMaxUsageFileBytes, so the audit keeps at most twice that.
  static constexpr int64_t kMaxUsageFileBytes = 64ll << 20;
  [[nodiscard]] std::string AppendUsage(const std::vector<KeyUsage>& usage) const;
  // The audit of `merchant_id` ("" = all): key operations, then usage records (older
  // rotated file first), as the JSON lines stored.
  [[nodiscard]] std::vector<std::string> Audit(const std::string& merchant_id) const;
  std::string usage_path() const;

  const std::string& path() const { return path_; }

 private:
  std::string Append(const std::string& line);
  std::optional<CreatedKey> NewKey(const std::string& merchant_id, const std::string& actor,
                                   const std::string& op, const std::string& replaces,
                                   std::string* error);

  std::string path_;
  const Clock* clock_;
  RandomFn random_;
};

struct VerifierOptions {
  // A verified key is trusted this long without argon2id. In its last tenth, the first
  // request re-verifies it while the others still use the cache; once expired, one request
  // re-verifies and the others wait for it. Without that, every request in flight when the
  // TTL ran out paid for argon2id: 64 at once queued ~1.1 s behind the verification slots
  // (docs/performance.md).
  int64_t ttl_ms = 60'000;
  int64_t reload_interval_ms = 1'000;
  // argon2id verifications running at once (19 MiB of memory each); more wait their turn.
  // Also the number of the verifier's own threads ("po-auth") for VerifyLater().
  int max_concurrent_verifications = 2;
  // VerifyLater(): verifications waiting for a thread; beyond this many, or beyond
  // max_queued_bytes of what their requests hold (bodies), a request is refused unverified
  // (the merchant API answers 503 `overloaded`).
  int max_queued_verifications = 256;
  int64_t max_queued_bytes = 16 << 20;
  // How often aggregated key usage is written to the audit (on the next Verify).
  int64_t usage_flush_ms = 60'000;
};

// Thread-safe.
class KeyVerifier {
 public:
  KeyVerifier(const KeyStore* store, VerifierOptions options, const Clock* clock);
  // The principal of a presented key, or nullopt (malformed, unknown, revoked, wrong).
  // An unknown or revoked key id costs what a wrong secret costs (one argon2id
  // verification, against a stand-in hash), so timing does not tell which ids exist.
  // Waits for argon2id (tens of ms); VerifyNow()/VerifyLater() split it for callers that
  // must not wait.
  [[nodiscard]] std::optional<Principal> Verify(const std::string& presented);
  // Verify() when it needs no argon2id and no waiting: true with `*who` set for a
  // malformed key (nullopt) or a key whose verification is cached (in the TTL's last
  // tenth, a re-verification is queued in the background, once). False otherwise: the
  // caller then uses VerifyLater().
  [[nodiscard]] bool VerifyNow(const std::string& presented, std::optional<Principal>* who);
  // Verify() on one of the verifier's threads; `done(who, busy)` runs there, or at once on
  // the caller's thread with busy = true when max_queued_verifications are waiting or the
  // waiting ones' `held_bytes` (what `done` keeps alive: the request) would pass
  // max_queued_bytes.
  void VerifyLater(std::string presented, size_t held_bytes,
                   std::function<void(std::optional<Principal> who, bool busy)> done);
  // Writes the usage aggregated since the last flush to the key audit now.
  void FlushUsage();
  ~KeyVerifier();
  // argon2id verifications done so far (tests, metrics).
  [[nodiscard]] int64_t verifications() const { return verifications_.load(); }

 private:
  void MaybeReload(int64_t now, bool force);
  // Verify(); `record` false for a background re-verification (no request to count).
  std::optional<Principal> Verify(const std::string& presented, bool record);
  // VerifyNow()'s background re-verification of a cached key in its TTL's last tenth.
  void Reverify(const std::string& presented);
  // argon2id_verify, at most max_concurrent_verifications at once.
  bool Argon2Verify(const std::string& hash, const std::string& secret);
  // Counts one outcome; writes the aggregate when a window has passed.
  void Record(const std::string& key_id, const std::string& merchant_id, bool ok);
  struct Cached {
    std::string secret_sha256;
    int64_t expires_at_ms = 0;
    bool refreshing = false;      // one request is re-verifying it (single flight)
    bool refresh_queued = false;  // VerifyNow() queued a background re-verification
  };
  // Runs `task` on a verifier thread; false when the queue is full (count or bytes). A
  // `refresh` (a cached key's background re-verification) is queued first, past the bounds.
  bool Submit(std::function<void()> task, size_t held_bytes = 0, bool refresh = false);
  void WorkLoop();
  // The cache's answer for a presented key whose digest matches its entry (under mu_).
  enum class CacheUse { kHit, kLeadRefresh, kMiss };
  CacheUse UseCached(std::unique_lock<std::mutex>& lock, const std::string& key_id,
                     const std::string& digest, int64_t now);
  const KeyStore* store_;
  VerifierOptions options_;
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, ApiKeyRecord> keys_;
  std::string version_;
  int64_t checked_at_ms_ = -1;
  std::unordered_map<std::string, Cached> cache_;
  std::condition_variable refreshed_;  // a re-verification ended (with mu_)
  std::string stand_in_hash_;          // what an unknown key id is verified against
  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  int slots_in_use_ = 0;
  // VerifyLater()'s threads and their bounded queue.
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  struct Work {
    std::function<void()> task;
    size_t bytes = 0;
  };
  std::deque<Work> work_;
  size_t work_bytes_ = 0;  // of the queued Work
  bool work_stop_ = false;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> verifications_{0};
  std::mutex usage_mu_;
  std::map<std::string, KeyUsage> usage_;  // bounded: known key ids + "unknown"
  int64_t usage_since_ms_ = -1;
};

// Splits "pk_<16 hex>_<64 hex>" into (key id, secret); nullopt when malformed.
[[nodiscard]] std::optional<std::pair<std::string, std::string>> ParseKey(const std::string& key);

}  // namespace payorch::api
