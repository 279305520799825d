#include "outbox/webhook_outbox.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/rocksdb_filters.h"
#include "common/rocksdb_status.h"
#include "common/thread_name.h"

namespace payorch::outbox {
namespace {

constexpr char kQueued[] = "q/";
constexpr char kSchedule[] = "t/";
constexpr char kDead[] = "x/";
constexpr char kSent[] = "s/";
constexpr char kMeta[] = "m/";

std::string ScheduleKey(int64_t at_ms, const std::string& id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld/", static_cast<long long>(std::max<int64_t>(at_ms, 0)));
  return std::string(kSchedule) + buf + id;
}

std::string Encode(const WebhookDelivery& d) {
  return nlohmann::json{{"id", d.id},
                        {"merchant_id", d.merchant_id},
                        {"event_id", d.event_id},
                        {"body", d.body},
                        {"created_at_ms", d.created_at_ms},
                        {"attempts", d.attempts},
                        {"next_at_ms", d.next_at_ms},
                        {"last_error", d.last_error}}
      .dump();
}

std::optional<WebhookDelivery> Decode(const std::string& bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  WebhookDelivery d;
  d.id = j.value("id", "");
  d.merchant_id = j.value("merchant_id", "");
  d.event_id = j.value("event_id", "");
  d.body = j.value("body", "");
  d.created_at_ms = j.value("created_at_ms", int64_t{0});
  d.attempts = j.value("attempts", 0);
  d.next_at_ms = j.value("next_at_ms", int64_t{0});
  d.last_error = j.value("last_error", "");
  return d;
}

size_t DiscardBody(char*, size_t size, size_t n, void*) { return size * n; }

SendResult CurlPost(const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return {0, "curl_easy_init failed"};
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) {
    std::string line = k;
    line.append(": ").append(v);
    list = curl_slist_append(list, line.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  SendResult r;
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    r.status = static_cast<int>(code);
    if (code < 200 || code > 299) r.error = "HTTP " + std::to_string(code);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace

std::string SignatureHeader(const std::string& secret, int64_t unix_seconds,
                            const std::string& body) {
  const std::string payload = std::to_string(unix_seconds) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 15]);
  }
  return "t=" + std::to_string(unix_seconds) + ",v1=" + hex;
}

WebhookOutbox::WebhookOutbox(WebhookOutboxOptions options) : options_(std::move(options)) {
  if (options_.clock == nullptr) {
    own_clock_ = std::make_unique<SystemClock>();
    options_.clock = own_clock_.get();
  }
  if (!options_.sender) options_.sender = CurlPost;
}

WebhookOutbox::~WebhookOutbox() { Stop(); }

Status WebhookOutbox::Open() {
  rocksdb::Options o;
  o.create_if_missing = true;
  // The webhook feeder's model reads the view of every payment it has not cached, and a
  // new payment has none: bloom filters (the tables' and the memtable's) answer those Gets
  // without searching the memtable's skip list and every level. Without them the misses
  // grew with the store, from 1.2 % to 4.7 % of `payorch run`'s CPU within a minute of the
  // merchant API's load (docs/performance.md).
  AddMissFilters(&o);
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, options_.dir, &db);
  if (!s.ok()) return FromRocksDb(s, "webhook outbox " + options_.dir);
  db_.reset(db);
  return Status::Ok();
}

void WebhookOutbox::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    NameThisThread("po-webhooks");
    Loop();
  });
}

void WebhookOutbox::Stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookOutbox::Loop() {
  while (!stop_) {
    const int attempted = DeliverDue();
    if (attempted > 0) continue;
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

Status WebhookOutbox::Enqueue(const std::vector<WebhookDelivery>& deliveries,
                              const std::vector<std::pair<std::string, std::string>>& meta) {
  if (!db_) return FailedPreconditionError("webhook outbox not open");
  const int64_t now = options_.clock->NowMs();
  rocksdb::WriteBatch batch;
  int added = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string ignored;
    for (const WebhookDelivery& in : deliveries) {
      if (db_->Get({}, kQueued + in.id, &ignored).ok() ||
          db_->Get({}, kSent + in.id, &ignored).ok() || db_->Get({}, kDead + in.id, &ignored).ok())
        continue;
      WebhookDelivery d = in;
      d.created_at_ms = now;
      d.next_at_ms = now;
      d.attempts = 0;
      batch.Put(kQueued + d.id, Encode(d));
      batch.Put(ScheduleKey(d.next_at_ms, d.id), "");
      ++added;
    }
    for (const auto& [k, v] : meta) batch.Put(kMeta + k, v);
    rocksdb::WriteOptions wo;
    wo.sync = false;  // the WAL survives a killed process; fsync per batch is not needed
    if (auto s = db_->Write(wo, &batch); !s.ok()) {
      return FromRocksDb(s, "webhook outbox enqueue of " + std::to_string(added) +
                                " deliveries and " + std::to_string(meta.size()) + " meta entries");
    }
  }
  if (added > 0) wake_.notify_all();
  return Status::Ok();
}

std::optional<std::string> WebhookOutbox::GetMeta(const std::string& key) const {
  std::string v;
  if (!db_ || !db_->Get({}, kMeta + key, &v).ok()) return std::nullopt;
  return v;
}

namespace {
// The smallest key above every key that starts with `prefix` ("" if there is none).
std::string Successor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> WebhookOutbox::ScanMeta(const std::string& prefix,
                                                                         const std::string& after,
                                                                         size_t limit,
                                                                         bool reverse) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!db_ || limit == 0) return out;
  const std::string first = kMeta + prefix;
  const std::string from = after.empty() ? "" : kMeta + after;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
  if (reverse) {
    const std::string end = Successor(first);
    const std::string target = from.empty() ? end : std::min(from, end);
    if (target.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(target);
    }
    if (it->Valid() && it->key() == target) it->Prev();
  } else {
    const std::string target = std::max(from, first);
    it->Seek(target);
    if (it->Valid() && !from.empty() && it->key() == from) it->Next();
  }
  for (; it->Valid() && it->key().starts_with(first) && out.size() < limit;
       reverse ? it->Prev() : it->Next())
    out.emplace_back(it->key().ToString().substr(sizeof kMeta - 1), it->value().ToString());
  return out;
}

Status WebhookOutbox::DeleteMeta(const std::vector<std::string>& keys) {
  if (!db_) return FailedPreconditionError("webhook outbox not open");
  rocksdb::WriteBatch batch;
  for (const std::string& k : keys) batch.Delete(kMeta + k);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto s = db_->Write({}, &batch); !s.ok()) {
    return FromRocksDb(s, "webhook outbox delete of " + std::to_string(keys.size()) + " meta keys");
  }
  return Status::Ok();
}

std::string WebhookOutbox::Attempt(WebhookDelivery& d) {
  auto endpoint = options_.endpoints ? options_.endpoints(d.merchant_id) : std::nullopt;
  if (!endpoint || endpoint->url.empty()) return "no webhook endpoint configured";
  const int64_t now_s = options_.clock->NowMs() / 1000;
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"Payorch-Event-Id", d.event_id},
      {"Payorch-Delivery-Id", d.id},
      {"Payorch-Signature", SignatureHeader(endpoint->secret, now_s, d.body)},
  };
  SendResult r = options_.sender(endpoint->url, headers, d.body);
  if (r.status >= 200 && r.status <= 299) return "";
  return r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
}

int WebhookOutbox::DeliverDue() {
  if (!db_) return 0;
  const int64_t now = options_.clock->NowMs();
  std::vector<std::pair<std::string, std::string>> due;  // schedule key, id
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
    for (it->Seek(kSchedule); it->Valid() && it->key().starts_with(kSchedule); it->Next()) {
      const std::string key = it->key().ToString();
      const int64_t at = std::strtoll(key.c_str() + 2, nullptr, 10);
      if (at > now || static_cast<int>(due.size()) >= options_.max_per_round) break;
      due.emplace_back(key, key.substr(2 + 21));
    }
  }
  for (const auto& [schedule_key, id] : due) {
    if (stop_) break;
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!db_->Get({}, kQueued + id, &bytes).ok()) {
        // A stale schedule entry: if it stays, the next round skips it the same way.
        db_->Delete({}, schedule_key).PermitUncheckedError();
        continue;
      }
    }
    auto d = Decode(bytes);
    if (!d) continue;
    const std::string error = Attempt(*d);
    std::lock_guard<std::mutex> lock(mu_);
    rocksdb::WriteBatch batch;
    batch.Delete(schedule_key);
    const int64_t after = options_.clock->NowMs();
    if (error.empty()) {
      batch.Delete(kQueued + id);
      batch.Put(kSent + id, std::to_string(after));
    } else {
      d->attempts += 1;
      d->last_error = error;
      const int shift = std::min(d->attempts - 1, 40);
      const int64_t wait =
          std::min(options_.retry.initial_ms << shift, options_.retry.max_interval_ms);
      d->next_at_ms = after + std::max<int64_t>(wait, 1);
      if (after - d->created_at_ms >= options_.retry.give_up_after_ms) {
        batch.Delete(kQueued + id);
        batch.Put(kDead + id, Encode(*d));
        spdlog::warn("webhook {} to merchant {} parked after {} attempts: {}", id, d->merchant_id,
                     d->attempts, error);
      } else {
        batch.Put(kQueued + id, Encode(*d));
        batch.Put(ScheduleKey(d->next_at_ms, id), "");
      }
    }
    if (auto s = db_->Write({}, &batch); !s.ok()) spdlog::error("webhook outbox: {}", s.ToString());
  }
  return static_cast<int>(due.size());
}

namespace {
std::vector<WebhookDelivery> ScanPrefix(rocksdb::DB* db, const char* prefix,
                                        const std::string& merchant_id) {
  std::vector<WebhookDelivery> out;
  if (db == nullptr) return out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto d = Decode(it->value().ToString());
    if (d && (merchant_id.empty() || d->merchant_id == merchant_id)) out.push_back(std::move(*d));
  }
  return out;
}
}  // namespace

std::vector<WebhookDelivery> WebhookOutbox::ListPending(const std::string& merchant_id) const {
  return ScanPrefix(db_.get(), kQueued, merchant_id);
}

std::vector<WebhookDelivery> WebhookOutbox::ListDead(const std::string& merchant_id) const {
  return ScanPrefix(db_.get(), kDead, merchant_id);
}

bool WebhookOutbox::Resend(const std::string& merchant_id, const std::string& id) {
  if (!db_) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string bytes;
    if (!db_->Get({}, kDead + id, &bytes).ok()) return false;
    auto d = Decode(bytes);
    if (!d || d->merchant_id != merchant_id) return false;
    const int64_t now = options_.clock->NowMs();
    d->attempts = 0;
    d->created_at_ms = now;
    d->next_at_ms = now;
    rocksdb::WriteBatch batch;
    batch.Delete(kDead + id);
    batch.Put(kQueued + id, Encode(*d));
    batch.Put(ScheduleKey(now, id), "");
    if (!db_->Write({}, &batch).ok()) return false;
  }
  wake_.notify_all();
  return true;
}

}  // namespace payorch::outbox
