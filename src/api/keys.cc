#include "api/keys.h"

#include <argon2.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "common/thread_name.h"

namespace payorch::api {
namespace {

constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKib = 19 * 1024;
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

bool IsHex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string HashSecret(const std::string& secret, const RandomFn& random) {
  unsigned char salt[kSaltBytes];
  random(salt, sizeof salt);
  const size_t len =
      argon2_encodedlen(kTimeCost, kMemoryKib, kParallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  if (argon2id_hash_encoded(kTimeCost, kMemoryKib, kParallelism, secret.data(), secret.size(), salt,
                            sizeof salt, kHashBytes, encoded.data(), len) != ARGON2_OK)
    return "";
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

}  // namespace

void SystemRandom(unsigned char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::getrandom(out + done, n - done, 0);
    if (got > 0) done += static_cast<size_t>(got);
  }
}

std::optional<std::pair<std::string, std::string>> ParseKey(const std::string& key) {
  // pk_ + 16 + _ + 64
  if (key.size() != 3 + 16 + 1 + 64 || key.rfind("pk_", 0) != 0 || key[19] != '_')
    return std::nullopt;
  std::string id = key.substr(3, 16);
  std::string secret = key.substr(20);
  if (!IsHex(id) || !IsHex(secret)) return std::nullopt;
  return std::make_pair(std::move(id), std::move(secret));
}

KeyStore::KeyStore(std::string path, const Clock* clock, RandomFn random)
    : path_(std::move(path)), clock_(clock), random_(std::move(random)) {}

std::map<std::string, ApiKeyRecord> KeyStore::Load() const {
  std::map<std::string, ApiKeyRecord> keys;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;  // a torn last line of a crashed writer
    const std::string op = j.value("op", "");
    const std::string id = j.value("key_id", "");
    if (op == "create" || op == "rotate") {
      ApiKeyRecord r;
      r.key_id = id;
      r.merchant_id = j.value("merchant_id", "");
      r.hash = j.value("hash", "");
      r.created_at_ms = j.value("at_ms", int64_t{0});
      keys[id] = r;
      if (op == "rotate") {
        auto old = keys.find(j.value("replaces", ""));
        if (old != keys.end() && !old->second.revoked) {
          old->second.revoked = true;
          old->second.revoked_at_ms = r.created_at_ms;
          old->second.replaced_by = id;
        }
      }
    } else if (op == "revoke") {
      auto it = keys.find(id);
      if (it != keys.end() && !it->second.revoked) {
        it->second.revoked = true;
        it->second.revoked_at_ms = j.value("at_ms", int64_t{0});
      }
    }
  }
  return keys;
}

std::string KeyStore::Version() const {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + "/" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string KeyStore::Append(const std::string& line) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot open " + path_ + ": " + std::strerror(errno);
  const std::string data = line + "\n";
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  return ok ? "" : "cannot write " + path_ + ": " + std::strerror(errno);
}

namespace {
// Holds an exclusive lock on "<path>.lock" for one read-check-append.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};
}  // namespace

std::optional<CreatedKey> KeyStore::NewKey(const std::string& merchant_id, const std::string& actor,
                                           const std::string& op, const std::string& replaces,
                                           std::string* error) {
  unsigned char id_bytes[8];
  unsigned char secret_bytes[32];
  random_(id_bytes, sizeof id_bytes);
  random_(secret_bytes, sizeof secret_bytes);
  CreatedKey key;
  key.key_id = Hex(id_bytes, sizeof id_bytes);
  const std::string secret = Hex(secret_bytes, sizeof secret_bytes);
  key.secret = "pk_" + key.key_id + "_" + secret;
  const std::string hash = HashSecret(secret, random_);
  if (hash.empty()) {
    *error = "argon2id hashing failed";
    return std::nullopt;
  }
  nlohmann::json line{{"op", op},
                      {"at_ms", clock_->NowMs()},
                      {"actor", actor},
                      {"key_id", key.key_id},
                      {"merchant_id", merchant_id},
                      {"hash", hash}};
  if (!replaces.empty()) line["replaces"] = replaces;
  if (std::string err = Append(line.dump()); !err.empty()) {
    *error = err;
    return std::nullopt;
  }
  return key;
}

std::optional<CreatedKey> KeyStore::Create(const std::string& merchant_id, const std::string& actor,
                                           std::string* error) {
  if (merchant_id.empty()) {
    *error = "a merchant id is required";
    return std::nullopt;
  }
  FileLock lock(path_);
  return NewKey(merchant_id, actor, "create", "", error);
}

std::optional<CreatedKey> KeyStore::Rotate(const std::string& merchant_id,
                                           const std::string& key_id, const std::string& actor,
                                           std::string* error) {
  FileLock lock(path_);
  const auto keys = Load();
  auto it = keys.find(key_id);
  if (it == keys.end() || it->second.merchant_id != merchant_id) {
    *error = "no key " + key_id + " for merchant " + merchant_id;
    return std::nullopt;
  }
  if (it->second.revoked) {
    *error = "key " + key_id + " is revoked";
    return std::nullopt;
  }
  return NewKey(merchant_id, actor, "rotate", key_id, error);
}

std::string KeyStore::Revoke(const std::string& merchant_id, const std::string& key_id,
                             const std::string& actor) {
  FileLock lock(path_);
  const auto keys = Load();
  auto it = keys.find(key_id);
  if (it == keys.end() || it->second.merchant_id != merchant_id)
    return "no key " + key_id + " for merchant " + merchant_id;
  if (it->second.revoked) return "key " + key_id + " is already revoked";
  return Append(nlohmann::json{
      {"op", "revoke"},
      {"at_ms", clock_->NowMs()},
      {"actor", actor},
      {"key_id", key_id},
      {"merchant_id",
       merchant_id}}.dump());
}

std::string KeyStore::usage_path() const {
  return (std::filesystem::path(path_).parent_path() / "key_usage.jsonl").string();
}

std::string KeyStore::AppendUsage(const std::vector<KeyUsage>& usage) const {
  if (usage.empty()) return "";
  const std::string file = usage_path();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  if (std::filesystem::file_size(file, ec) > static_cast<uintmax_t>(kMaxUsageFileBytes) && !ec) {
    std::filesystem::rename(file, file + ".1", ec);
  }
  std::string lines;
  for (const KeyUsage& u : usage) {
    lines +=
        nlohmann::json{{"op", "usage"},   {"key_id", u.key_id},     {"merchant_id", u.merchant_id},
                       {"uses", u.uses},  {"failures", u.failures}, {"from_ms", u.from_ms},
                       {"to_ms", u.to_ms}}
            .dump();
    lines += '\n';
  }
  std::ofstream out(file, std::ios::app);
  out << lines;
  out.flush();
  return out ? "" : "cannot append to " + file;
}

std::vector<std::string> KeyStore::Audit(const std::string& merchant_id) const {
  std::vector<std::string> out;
  for (const std::string& file : {path_, usage_path() + ".1", usage_path()}) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (!merchant_id.empty() && j.value("merchant_id", "") != merchant_id) continue;
      j.erase("hash");
      out.push_back(j.dump());
    }
  }
  return out;
}

std::vector<ApiKeyRecord> KeyStore::List(const std::string& merchant_id) const {
  std::vector<ApiKeyRecord> out;
  for (auto& [id, r] : Load())
    if (merchant_id.empty() || r.merchant_id == merchant_id) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const ApiKeyRecord& a, const ApiKeyRecord& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms
                                              : a.key_id < b.key_id;
  });
  return out;
}

KeyVerifier::KeyVerifier(const KeyStore* store, VerifierOptions options, const Clock* clock)
    : store_(store), options_(options), clock_(clock) {
  unsigned char secret[32];
  SystemRandom(secret, sizeof secret);
  stand_in_hash_ =
      HashSecret(std::string(reinterpret_cast<const char*>(secret), sizeof secret), SystemRandom);
  for (int i = 0; i < std::max(1, options_.max_concurrent_verifications); ++i)
    workers_.emplace_back([this] { WorkLoop(); });
}

bool KeyVerifier::Submit(std::function<void()> task, size_t held_bytes, bool refresh) {
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    if (work_stop_) return false;
    if (refresh) {
      // A cached key's re-verification goes first and past the bounds (at most one per
      // cached key is queued): a flood of unknown keys must not let a key in use expire.
      work_.push_front({std::move(task), held_bytes});
    } else {
      const auto max_bytes = static_cast<size_t>(std::max<int64_t>(0, options_.max_queued_bytes));
      if (work_.size() >= static_cast<size_t>(std::max(1, options_.max_queued_verifications)) ||
          work_bytes_ + held_bytes > max_bytes)
        return false;
      work_.push_back({std::move(task), held_bytes});
    }
    work_bytes_ += held_bytes;
  }
  work_cv_.notify_one();
  return true;
}

void KeyVerifier::WorkLoop() {
  NameThisThread("po-auth");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(work_mu_);
      work_cv_.wait(lock, [this] { return work_stop_ || !work_.empty(); });
      if (work_stop_) return;
      task = std::move(work_.front().task);
      work_bytes_ -= work_.front().bytes;
      work_.pop_front();
    }
    task();
  }
}

bool KeyVerifier::VerifyNow(const std::string& presented, std::optional<Principal>* who) {
  auto parsed = ParseKey(presented);
  if (!parsed) {
    Record("unknown", "", false);
    *who = std::nullopt;
    return true;
  }
  const auto& [key_id, secret] = *parsed;
  const std::string digest = Sha256Hex(secret);
  const int64_t now = clock_->NowMs();
  Principal found;
  bool refresh = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeReload(now, false);
    auto k = keys_.find(key_id);
    if (k == keys_.end() || k->second.revoked) return false;  // argon2id all the same
    auto c = cache_.find(key_id);
    if (c == cache_.end() || c->second.secret_sha256 != digest) return false;
    Cached& e = c->second;
    if (now >= e.expires_at_ms) return false;
    if (now >= e.expires_at_ms - options_.ttl_ms / 10 && !e.refreshing && !e.refresh_queued) {
      e.refresh_queued = true;  // still valid: answered now, re-verified in the background
      refresh = true;
    }
    found = {key_id, k->second.merchant_id};
  }
  if (refresh && !Submit([this, presented] { Reverify(presented); }, 0, true)) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto c = cache_.find(key_id); c != cache_.end()) c->second.refresh_queued = false;
  }
  Record(key_id, found.merchant_id, true);
  *who = std::move(found);
  return true;
}

void KeyVerifier::Reverify(const std::string& presented) {
  // Its effect is the cache: renewed, or dropped when the key no longer verifies (revoked,
  // rotated); no request waits for the answer, so only a failure is worth a line.
  if (!Verify(presented, /*record=*/false)) {
    spdlog::info("api keys: a cached key no longer verifies; its next request is verified anew");
  }
}

void KeyVerifier::VerifyLater(std::string presented, size_t held_bytes,
                              std::function<void(std::optional<Principal>, bool)> done) {
  // Called from the task, or here if it is refused: shared, not copied into the task.
  auto call =
      std::make_shared<std::function<void(std::optional<Principal>, bool)>>(std::move(done));
  if (!Submit([this, presented = std::move(presented), call] { (*call)(Verify(presented), false); },
              held_bytes))
    (*call)(std::nullopt, true);
}

bool KeyVerifier::Argon2Verify(const std::string& hash, const std::string& secret) {
  {
    std::unique_lock<std::mutex> lock(slots_mu_);
    slots_cv_.wait(
        lock, [&] { return slots_in_use_ < std::max(1, options_.max_concurrent_verifications); });
    ++slots_in_use_;
  }
  verifications_.fetch_add(1);
  const bool ok = argon2id_verify(hash.c_str(), secret.data(), secret.size()) == ARGON2_OK;
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    --slots_in_use_;
  }
  slots_cv_.notify_one();
  return ok;
}

void KeyVerifier::MaybeReload(int64_t now, bool force) {
  if (!force && checked_at_ms_ >= 0 && now - checked_at_ms_ < options_.reload_interval_ms) return;
  checked_at_ms_ = now;
  std::string version = store_->Version();
  if (version == version_) return;
  version_ = std::move(version);
  keys_ = store_->Load();
  for (auto it = cache_.begin(); it != cache_.end();) {
    auto k = keys_.find(it->first);
    it = (k == keys_.end() || k->second.revoked) ? cache_.erase(it) : std::next(it);
  }
}

std::optional<Principal> KeyVerifier::Verify(const std::string& presented) {
  return Verify(presented, /*record=*/true);
}

std::optional<Principal> KeyVerifier::Verify(const std::string& presented, bool record) {
  auto parsed = ParseKey(presented);
  if (!parsed) {
    if (record) Record("unknown", "", false);
    return std::nullopt;
  }
  const auto& [key_id, secret] = *parsed;
  const std::string digest = Sha256Hex(secret);
  const int64_t now = clock_->NowMs();
  std::string hash;
  Principal who;
  bool ok_from_cache = false;
  bool refresh_leader = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    MaybeReload(now, false);
    auto k = keys_.find(key_id);
    if (k == keys_.end()) {  // a key created since the last look: stat the file now
      MaybeReload(now, true);
      k = keys_.find(key_id);
    }
    if (k == keys_.end() || k->second.revoked) {
      if (k != keys_.end()) who.merchant_id = k->second.merchant_id;  // revoked: audited as it
      hash = stand_in_hash_;  // the same cost as a wrong secret: no oracle for known ids
    } else {
      who = {key_id, k->second.merchant_id};
      hash = k->second.hash;
      switch (UseCached(lock, key_id, digest, now)) {
        case CacheUse::kHit:
          ok_from_cache = true;
          break;
        case CacheUse::kLeadRefresh:
          refresh_leader = true;
          break;
        case CacheUse::kMiss:
          break;
      }
    }
  }
  if (ok_from_cache) {
    if (record) Record(key_id, who.merchant_id, true);
    return who;
  }
  const bool ok = Argon2Verify(hash, secret) && !who.key_id.empty();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      cache_[key_id] = {digest, clock_->NowMs() + options_.ttl_ms};
    } else if (refresh_leader) {
      cache_.erase(key_id);  // the key changed under its cached digest: verify afresh
    }
  }
  if (refresh_leader) refreshed_.notify_all();
  if (!ok) {
    if (record) Record(who.merchant_id.empty() ? "unknown" : key_id, who.merchant_id, false);
    return std::nullopt;
  }
  if (record) Record(key_id, who.merchant_id, true);
  return who;
}

KeyVerifier::CacheUse KeyVerifier::UseCached(std::unique_lock<std::mutex>& lock,
                                             const std::string& key_id, const std::string& digest,
                                             int64_t now) {
  const int64_t refresh_ahead_ms = options_.ttl_ms / 10;
  for (;;) {
    auto c = cache_.find(key_id);
    if (c == cache_.end() || c->second.secret_sha256 != digest) return CacheUse::kMiss;
    Cached& e = c->second;
    if (now < e.expires_at_ms - refresh_ahead_ms) return CacheUse::kHit;
    if (!e.refreshing) {  // this request re-verifies; the rest use the entry or wait for it
      e.refreshing = true;
      return CacheUse::kLeadRefresh;
    }
    if (now < e.expires_at_ms) return CacheUse::kHit;  // still valid while it is refreshed
    refreshed_.wait(lock);  // expired: the one verification in flight decides for all
    now = clock_->NowMs();
  }
}

void KeyVerifier::Record(const std::string& key_id, const std::string& merchant_id, bool ok) {
  const int64_t now = clock_->NowMs();
  std::vector<KeyUsage> due;
  {
    std::lock_guard<std::mutex> lock(usage_mu_);
    if (usage_since_ms_ < 0) usage_since_ms_ = now;
    KeyUsage& u = usage_[key_id];
    u.key_id = key_id;
    u.merchant_id = merchant_id;
    ++(ok ? u.uses : u.failures);
    if (now - usage_since_ms_ < options_.usage_flush_ms) return;
    for (auto& [id, e] : usage_) {
      e.from_ms = usage_since_ms_;
      e.to_ms = now;
      due.push_back(std::move(e));
    }
    usage_.clear();
    usage_since_ms_ = now;
  }
  // Outside the lock; a failure to write loses one window of counts, never a request.
  if (std::string err = store_->AppendUsage(due); !err.empty())
    spdlog::warn("api keys: usage audit: {}", err);
}

void KeyVerifier::FlushUsage() {
  std::vector<KeyUsage> due;
  {
    std::lock_guard<std::mutex> lock(usage_mu_);
    const int64_t now = clock_->NowMs();
    for (auto& [id, e] : usage_) {
      e.from_ms = usage_since_ms_;
      e.to_ms = now;
      due.push_back(std::move(e));
    }
    usage_.clear();
    usage_since_ms_ = now;
  }
  if (std::string err = store_->AppendUsage(due); !err.empty())
    spdlog::warn("api keys: usage audit: {}", err);
}

KeyVerifier::~KeyVerifier() {
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    work_stop_ = true;  // queued verifications are dropped with their callbacks
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  FlushUsage();
}

}  // namespace payorch::api
