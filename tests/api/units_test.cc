// The merchant API's parts without a broker: API keys (hashing, rotation, revocation,
// audit log), the token bucket and its headers, the webhook outbox (signature, retry
// schedule, dead letters, durability across reopen), the configuration file, the
// merchant-facing objects (internal/objects.h) and the expiry of stored responses.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/config.h"
#include "api/internal/answers.h"
#include "api/internal/auth.h"
#include "api/internal/log_bridge.h"
#include "api/internal/objects.h"
#include "api/internal/response_store.h"
#include "api/internal/webhook_feeder.h"
#include "api/keys.h"
#include "api/rate_limiter.h"
#include "outbox/webhook_outbox.h"

namespace payorch::api {
namespace {

namespace fs = std::filesystem;

class FakeClock final : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = 1'700'000'000'000;
};

// Temporary directories, removed after the last test.
std::vector<fs::path>& Dirs() {
  static std::vector<fs::path> dirs;
  return dirs;
}
class RemoveDirs : public ::testing::Environment {
 public:
  void TearDown() override {
    for (const fs::path& d : Dirs()) fs::remove_all(d);
  }
};
[[maybe_unused]] ::testing::Environment* const kRemoveDirs =
    ::testing::AddGlobalTestEnvironment(new RemoveDirs);

fs::path TempDir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("payorch-api-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  Dirs().push_back(dir);
  return dir;
}

std::map<std::string, std::string> Headers(const RateDecision& d) {
  return {d.headers.begin(), d.headers.end()};
}

// `secret` with its last hex digit changed: a wrong secret for the same key id.
std::string WrongSecret(std::string secret) {
  secret.back() = secret.back() == '0' ? '1' : '0';
  return secret;
}

TEST(RateLimiter, AllowsTheBurstThenRefusesWithRetryAfter) {
  FakeClock clock;
  RateLimiter limiter({.per_second = 2, .burst = 3}, &clock);
  for (int i = 0; i < 3; ++i) {
    RateDecision d = limiter.Take("k1");
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(Headers(d)["RateLimit-Limit"], "3");
    EXPECT_EQ(Headers(d)["RateLimit-Remaining"], std::to_string(2 - i));
  }
  RateDecision refused = limiter.Take("k1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(Headers(refused)["Retry-After"], "1");
  EXPECT_EQ(Headers(refused)["RateLimit-Reset"], "2");  // 3 tokens at 2/s
  EXPECT_TRUE(limiter.Take("k2").allowed) << "buckets are per key";
  clock.now += 500;  // one token back
  EXPECT_TRUE(limiter.Take("k1").allowed);
  EXPECT_FALSE(limiter.Take("k1").allowed);
}

TEST(RateLimiter, RemembersAtMostMaxBucketsKeyIds) {
  FakeClock clock;
  RateLimiter limiter({.per_second = 1, .burst = 5}, &clock, /*max_buckets=*/100);
  for (int i = 0; i < 50'000; ++i) {
    (void)limiter.Take("pk_" + std::to_string(i));
    ASSERT_LE(limiter.size(), 100u) << i;
    if (i % 1000 == 0) clock.now += 1;
  }
  // A drained key is still refused while it is among the recently used ones.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Take("busy").allowed);
  EXPECT_FALSE(limiter.Take("busy").allowed);
  for (int i = 0; i < 50; ++i) (void)limiter.Take("other-" + std::to_string(i));
  EXPECT_FALSE(limiter.Take("busy").allowed);
}

TEST(ApiKeys, AnUnknownKeyIdCostsOneVerificationLikeAWrongSecret) {
  FakeClock clock;
  const fs::path dir = TempDir("oracle");
  KeyStore store((dir / "keys.jsonl").string(), &clock);
  std::string err;
  auto key = store.Create("m_a", "test", &err);
  ASSERT_TRUE(key) << err;
  KeyVerifier verifier(&store, {.ttl_ms = 60'000, .reload_interval_ms = 0}, &clock);
  const std::string wrong = WrongSecret(key->secret);
  const int64_t before = verifier.verifications();
  EXPECT_FALSE(verifier.Verify(wrong));
  EXPECT_EQ(verifier.verifications(), before + 1) << "a wrong secret: one argon2id verification";
  // The same secret under an id that does not exist.
  std::string unknown = wrong;
  unknown.replace(3, 16, "0123456789abcdef");
  ASSERT_NE(unknown.substr(3, 16), key->key_id);
  EXPECT_FALSE(verifier.Verify(unknown));
  EXPECT_EQ(verifier.verifications(), before + 2) << "an unknown id costs the same";
  ASSERT_EQ(store.Revoke("m_a", key->key_id, "test"), "");
  EXPECT_FALSE(verifier.Verify(key->secret));
  EXPECT_EQ(verifier.verifications(), before + 3) << "so does a revoked one";
}

// A verified key's TTL running out under load cost every request in flight an argon2id
// verification (64 of them queued ~1.1 s behind the two verification slots). Now one
// request re-verifies it, ahead of the expiry or, once expired, for all the others.
TEST(ApiKeys, AnExpiringKeyIsReverifiedOnceNotByEveryRequest) {
  FakeClock clock;
  const fs::path dir = TempDir("single-flight");
  KeyStore store((dir / "keys.jsonl").string(), &clock);
  std::string err;
  auto key = store.Create("m_a", "test", &err);
  ASSERT_TRUE(key) << err;
  KeyVerifier verifier(&store, {.ttl_ms = 10'000, .reload_interval_ms = 0}, &clock);
  ASSERT_TRUE(verifier.Verify(key->secret));
  const int64_t first = verifier.verifications();
  clock.now += 9'500;  // the TTL's last tenth: this request refreshes it
  ASSERT_TRUE(verifier.Verify(key->secret));
  EXPECT_EQ(verifier.verifications(), first + 1);
  clock.now += 2'500;  // past the first expiry, within the refreshed one
  ASSERT_TRUE(verifier.Verify(key->secret));
  EXPECT_EQ(verifier.verifications(), first + 1) << "refreshed ahead: no verification";

  clock.now += 60'000;  // expired, then many requests at once
  const int64_t before = verifier.verifications();
  std::atomic<int> accepted{0};
  std::vector<std::thread> requests;
  for (int i = 0; i < 8; ++i) {
    requests.emplace_back([&] {
      if (verifier.Verify(key->secret)) accepted.fetch_add(1);
    });
  }
  for (auto& t : requests) t.join();
  EXPECT_EQ(accepted.load(), 8);
  EXPECT_EQ(verifier.verifications(), before + 1) << "one verification for all of them";

  const std::string wrong = WrongSecret(key->secret);
  EXPECT_FALSE(verifier.Verify(wrong)) << "the cache never answers for another secret";
  EXPECT_EQ(verifier.verifications(), before + 2);
}

// A key store in a fresh directory with one key of m_a, and a verifier of a 10 s TTL with
// one verification thread and a queue of two: the VerifyNow/VerifyLater tests'.
struct SmallVerifier {
  explicit SmallVerifier(const std::string& name)
      : dir(TempDir(name)),
        store((dir / "keys.jsonl").string(), &clock),
        key(store.Create("m_a", "test", &err)),
        verifier(&store,
                 {.ttl_ms = 10'000,
                  .reload_interval_ms = 0,
                  .max_concurrent_verifications = 1,
                  .max_queued_verifications = 2},
                 &clock) {}
  FakeClock clock;
  fs::path dir;
  KeyStore store;
  std::string err;
  std::optional<CreatedKey> key;
  KeyVerifier verifier;
};

// The merchant API's workers never wait for argon2id: VerifyNow() answers only what needs
// no verification (a cached key, a malformed one, at once; in the TTL's last tenth the
// re-verification runs in the background), and VerifyLater() verifies on the verifier's
// own threads behind a bounded queue, refusing at once (busy) beyond it.
TEST(ApiKeys, VerifyNowAnswersOnlyWithoutArgon2AndVerifyLaterIsBounded) {
  SmallVerifier t("verify-later");
  ASSERT_TRUE(t.key) << t.err;
  FakeClock& clock = t.clock;
  KeyStore& store = t.store;
  const std::optional<CreatedKey>& key = t.key;
  KeyVerifier& verifier = t.verifier;
  std::optional<Principal> who;
  EXPECT_FALSE(verifier.VerifyNow(key->secret, &who)) << "not cached yet: needs argon2id";
  EXPECT_FALSE(verifier.VerifyNow(WrongSecret(key->secret), &who));
  EXPECT_TRUE(verifier.VerifyNow("pk_malformed", &who));
  EXPECT_FALSE(who) << "a malformed key is refused at once";
  EXPECT_EQ(verifier.verifications(), 0) << "VerifyNow never runs argon2id";

  // VerifyLater verifies on its thread and caches the key.
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  int busy = 0;
  int accepted = 0;
  const auto done = [&](std::optional<Principal> p, bool refused) {
    std::lock_guard lock(mu);
    ++answered;
    busy += refused ? 1 : 0;
    accepted += p ? 1 : 0;
  };
  verifier.VerifyLater(key->secret, 0, [&](std::optional<Principal> p, bool refused) {
    done(p, refused);
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == 1; }));
    EXPECT_EQ(accepted, 1);
  }
  ASSERT_TRUE(verifier.VerifyNow(key->secret, &who));
  ASSERT_TRUE(who);
  EXPECT_EQ(who->merchant_id, "m_a");
  const int64_t verified = verifier.verifications();
  EXPECT_EQ(verified, 1);

  // In the TTL's last tenth the answer is still at once; one re-verification is queued.
  clock.now += 9'500;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(verifier.VerifyNow(key->secret, &who));
  for (int i = 0; i < 300 && verifier.verifications() == verified; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(verifier.verifications(), verified + 1) << "one background re-verification";

  // Twenty wrong secrets at once: one verifies at a time, two wait, the rest are refused.
  const int before = answered;
  for (int i = 0; i < 20; ++i) {
    verifier.VerifyLater(WrongSecret(key->secret), 0,
                         [&](std::optional<Principal> p, bool refused) {
                           done(p, refused);
                           cv.notify_all();
                         });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered == before + 20; }));
  EXPECT_GE(busy, 10) << "at most one running and two queued (17 refused unless the VM stalls)";
  EXPECT_EQ(accepted, 1) << "no wrong secret accepted";
  lock.unlock();

  // What the queued requests hold is bounded too: one past max_queued_bytes is refused.
  KeyVerifier small(&store, {.max_queued_bytes = 1'000}, &clock);
  bool refused_at_once = false;
  small.VerifyLater(WrongSecret(key->secret), 2'000,
                    [&](std::optional<Principal>, bool refused) { refused_at_once = refused; });
  EXPECT_TRUE(refused_at_once) << "2,000 bytes held, 1,000 allowed";
}

// A wrong key answered after argon2id is a 401 sent once, and no Reply is left unanswered
// (the server logs each such drop as a bug: before the fix, one error line per 401).
TEST(ApiKeys, AWrongKeyIsOne401AndNoReplyIsDropped) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("units", sink));
  std::vector<http::Response> sent;
  std::mutex mu;
  std::condition_variable cv;
  {
    SmallVerifier t("wrong-401");
    ASSERT_TRUE(t.key) << t.err;
    RateLimiter limiter({.per_second = 100, .burst = 100}, &t.clock);
    http::Request req;
    req.method = "POST";
    req.path = "/v1/payments";
    req.headers.emplace("Authorization", "Bearer " + WrongSecret(t.key->secret));
    http::Reply reply(
        [&](http::Response r) {
          std::lock_guard lock(mu);
          sent.push_back(std::move(r));
          cv.notify_all();
        },
        nullptr);
    bool handled = false;
    internal::AuthenticateAsync(
        req, limiter, t.verifier, reply,
        [&](const http::Request&, const Principal&, const http::Reply&) { handled = true; }, 1);
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return !sent.empty(); }));
    EXPECT_FALSE(handled);
  }  // the verifier's threads are joined: every copy of the reply is gone
  spdlog::set_default_logger(previous);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status, 401);
  for (const std::string& line : sink->last_formatted()) {
    EXPECT_EQ(line.find("dropped its reply"), std::string::npos) << line;
  }
}

// A flood of unknown keys fills the verification queue; a key in use must not expire
// behind it: its background re-verification goes first, past the queue's bounds.
TEST(ApiKeys, AKeyInUseIsReverifiedAheadOfAFullQueue) {
  SmallVerifier t("refresh-first");
  ASSERT_TRUE(t.key) << t.err;
  FakeClock& clock = t.clock;
  const std::optional<CreatedKey>& key = t.key;
  KeyVerifier& verifier = t.verifier;
  ASSERT_TRUE(verifier.Verify(key->secret));  // cached until 10,000
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    verifier.VerifyLater(WrongSecret(key->secret), 0, [&](std::optional<Principal>, bool) {
      std::lock_guard lock(mu);
      ++answered;
      cv.notify_all();
    });
  }
  clock.now += 9'500;  // the TTL's last tenth, with the queue full
  std::optional<Principal> who;
  ASSERT_TRUE(verifier.VerifyNow(key->secret, &who));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered == 10; }));
  }
  clock.now += 2'500;  // past the first expiry, within a refreshed one
  EXPECT_TRUE(verifier.VerifyNow(key->secret, &who)) << "re-verified despite the full queue";
}

TEST(ApiKeys, UsesAndFailuresAreAuditedPerKeyAndBounded) {
  FakeClock clock;
  const fs::path dir = TempDir("usage");
  KeyStore store((dir / "keys.jsonl").string(), &clock);
  std::string err;
  auto key = store.Create("m_a", "test", &err);
  ASSERT_TRUE(key) << err;
  {
    KeyVerifier verifier(&store, {.ttl_ms = 60'000, .reload_interval_ms = 0}, &clock);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(verifier.Verify(key->secret));
    const std::string wrong = WrongSecret(key->secret);
    EXPECT_FALSE(verifier.Verify(wrong));
    // 20 random unknown ids and a malformed key: one aggregate, not 21 records.
    for (int i = 0; i < 20; ++i) {
      std::string unknown = wrong;
      unknown.replace(3, 16, fmt::format("{:016x}", 0xabc000 + i));
      EXPECT_FALSE(verifier.Verify(unknown));
    }
    EXPECT_FALSE(verifier.Verify("pk_garbage"));
    clock.now += 61'000;  // the next request writes the window's aggregate
    EXPECT_TRUE(verifier.Verify(key->secret));
  }                                                           // the destructor flushes the rest
  std::map<std::string, std::pair<int64_t, int64_t>> totals;  // key id -> uses, failures
  size_t records = 0;
  for (const std::string& line : store.Audit("")) {
    auto j = nlohmann::json::parse(line);
    if (j["op"] != "usage") continue;
    ++records;
    auto& t = totals[j["key_id"].get<std::string>()];
    t.first += j["uses"].get<int64_t>();
    t.second += j["failures"].get<int64_t>();
    EXPECT_EQ(line.find("$argon2id$"), std::string::npos);
  }
  EXPECT_EQ(records, 2u) << "one window (the request closing it counts in it): the key and "
                            "'unknown'";
  EXPECT_EQ(totals[key->key_id], std::make_pair(int64_t{4}, int64_t{1}));
  EXPECT_EQ(totals["unknown"], std::make_pair(int64_t{0}, int64_t{21}));
  // The merchant's audit has its key's operations and usage, not the unknown aggregate.
  for (const std::string& line : store.Audit("m_a"))
    EXPECT_EQ(nlohmann::json::parse(line)["merchant_id"], "m_a");
}

TEST(ApiKeys, AKeyVerifiesForItsMerchantOnlyWithItsSecret) {
  FakeClock clock;
  const fs::path dir = TempDir("keys");
  KeyStore store((dir / "keys.jsonl").string(), &clock);
  std::string err;
  auto key = store.Create("m_a", "test", &err);
  ASSERT_TRUE(key) << err;
  KeyVerifier verifier(&store, {.ttl_ms = 60'000, .reload_interval_ms = 0}, &clock);
  auto who = verifier.Verify(key->secret);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->merchant_id, "m_a");
  EXPECT_EQ(who->key_id, key->key_id);
  EXPECT_TRUE(verifier.Verify(key->secret)) << "cached";
  const std::string wrong = WrongSecret(key->secret);
  EXPECT_FALSE(verifier.Verify(wrong)) << "the cache is keyed by the secret's hash too";
  EXPECT_FALSE(verifier.Verify("pk_nothex"));
  EXPECT_FALSE(verifier.Verify(""));
  // Only the hash is stored.
  std::ifstream in(dir / "keys.jsonl");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(all.find(key->secret.substr(20)), std::string::npos);
  EXPECT_NE(all.find("$argon2id$"), std::string::npos);
}

TEST(ApiKeys, RevokeAndRotateTakeEffectAndAreAudited) {
  FakeClock clock;
  const fs::path dir = TempDir("rotate");
  KeyStore store((dir / "keys.jsonl").string(), &clock);
  std::string err;
  auto a = store.Create("m_a", "alice", &err);
  auto b = store.Create("m_b", "alice", &err);
  ASSERT_TRUE(a && b) << err;
  KeyVerifier verifier(&store, {.ttl_ms = 60'000, .reload_interval_ms = 0}, &clock);
  ASSERT_TRUE(verifier.Verify(a->secret));
  EXPECT_NE(store.Revoke("m_a", b->key_id, "mallory"), "") << "another merchant's key";
  clock.now += 10;
  auto a2 = store.Rotate("m_a", a->key_id, "alice", &err);
  ASSERT_TRUE(a2) << err;
  EXPECT_FALSE(verifier.Verify(a->secret)) << "rotated away, even though it was cached";
  EXPECT_TRUE(verifier.Verify(a2->secret));
  EXPECT_EQ(store.Revoke("m_b", b->key_id, "bob"), "");
  EXPECT_FALSE(verifier.Verify(b->secret));
  EXPECT_NE(store.Revoke("m_b", b->key_id, "bob"), "") << "already revoked";
  const auto keys = store.List("m_a");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys[0].revoked);
  EXPECT_EQ(keys[0].replaced_by, a2->key_id);
  EXPECT_FALSE(keys[1].revoked);
  // The audit log: one line per operation, in order.
  std::ifstream in(dir / "keys.jsonl");
  std::vector<std::string> ops;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    ops.push_back(j["op"].get<std::string>() + " " + j["actor"].get<std::string>());
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"create alice", "create alice", "rotate alice",
                                           "revoke bob"}));
}

struct Sent {
  std::string url;
  std::map<std::string, std::string> headers;
  std::string body;
  int64_t at_ms;
};

class OutboxTest : public ::testing::Test {
 protected:
  std::unique_ptr<outbox::WebhookOutbox> Make() {
    outbox::WebhookOutboxOptions o;
    o.dir = (dir_ / "outbox").string();
    o.endpoints = [](const std::string& m) -> std::optional<outbox::WebhookEndpoint> {
      if (m != "m_a") return std::nullopt;
      return outbox::WebhookEndpoint{"http://merchant.test/hook", "whsec_test"};
    };
    o.retry = {.initial_ms = 1'000, .max_interval_ms = 4'000, .give_up_after_ms = 20'000};
    o.clock = &clock_;
    o.sender = [this](const std::string& url, const auto& headers, const std::string& body) {
      sent_.push_back({url, {headers.begin(), headers.end()}, body, clock_.now});
      return outbox::SendResult{status_, status_ == 200 ? "" : "HTTP " + std::to_string(status_)};
    };
    auto box = std::make_unique<outbox::WebhookOutbox>(std::move(o));
    EXPECT_EQ(box->Open().ToString(), "ok");
    return box;
  }
  fs::path dir_ = TempDir("outbox");
  FakeClock clock_;
  std::vector<Sent> sent_;
  int status_ = 200;
};

TEST(WebhookSignature, IsHmacSha256OfTimestampDotBody) {
  // python3: hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
  EXPECT_EQ(outbox::SignatureHeader("whsec_test", 1'700'000'000, R"({"a":1})"),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
}

TEST_F(OutboxTest, DeliversSignedWithTheEventIdOnce) {
  auto box = Make();
  ASSERT_EQ(
      box->Enqueue(
             {{.id = "wh_1", .merchant_id = "m_a", .event_id = "pay_1/1", .body = R"({"x":1})"}},
             {{"events/0", "7"}})
          .ToString(),
      "ok");
  EXPECT_EQ(box->DeliverDue(), 1);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].url, "http://merchant.test/hook");
  EXPECT_EQ(sent_[0].headers["Payorch-Event-Id"], "pay_1/1");
  EXPECT_EQ(sent_[0].headers["Payorch-Signature"],
            outbox::SignatureHeader("whsec_test", clock_.now / 1000, R"({"x":1})"));
  EXPECT_EQ(box->GetMeta("events/0"), "7");
  // Sent: enqueueing it again (a re-read of the log) does nothing.
  ASSERT_EQ(
      box->Enqueue({{.id = "wh_1", .merchant_id = "m_a", .event_id = "pay_1/1"}}, {}).ToString(),
      "ok");
  EXPECT_EQ(box->DeliverDue(), 0);
  EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(OutboxTest, RetriesOnAnExponentialScheduleThenParksAndResends) {
  status_ = 503;
  {
    auto box = Make();
    ASSERT_EQ(
        box->Enqueue({{.id = "wh_2", .merchant_id = "m_a", .event_id = "e2", .body = "{}"}}, {})
            .ToString(),
        "ok");
  }
  auto box = Make();  // reopened: the delivery survived
  std::vector<int64_t> attempts_at;
  for (int step = 0; step < 40'000 && box->ListDead("m_a").empty(); step += 250) {
    box->DeliverDue();
    clock_.now += 250;
  }
  for (const Sent& s : sent_) attempts_at.push_back(s.at_ms - sent_[0].at_ms);
  // Waits 1 s, 2 s, 4 s, then 4 s (the cap) until 20 s have passed.
  EXPECT_EQ(attempts_at, (std::vector<int64_t>{0, 1000, 3000, 7000, 11000, 15000, 19000, 23000}));
  auto dead = box->ListDead("m_a");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].event_id, "e2");
  EXPECT_EQ(dead[0].last_error, "HTTP 503");
  EXPECT_TRUE(box->ListDead("m_b").empty());
  EXPECT_FALSE(box->Resend("m_b", "wh_2")) << "another merchant's delivery";
  status_ = 200;
  ASSERT_TRUE(box->Resend("m_a", "wh_2"));
  EXPECT_EQ(box->DeliverDue(), 1);
  EXPECT_TRUE(box->ListDead("m_a").empty());
  EXPECT_TRUE(box->ListPending("m_a").empty());
}

TEST(ApiConfigFile, ReadsFieldsAndNamesTheBadOne) {
  const fs::path dir = TempDir("config");
  const auto write = [&](const std::string& text) {
    std::ofstream(dir / "api.yaml") << text;
    return (dir / "api.yaml").string();
  };
  ApiConfig c;
  ASSERT_EQ(LoadApiConfig(write("wait_ms: 500\nrate_limit: {per_second: 7, burst: 9}\n"
                                "webhooks:\n  retry: {initial_ms: 10}\n  endpoints:\n"
                                "    m_a: {url: 'http://x/h', secret: s}\n"),
                          &c),
            "");
  EXPECT_EQ(c.wait_ms, 500);
  EXPECT_EQ(c.rate_limit.per_second, 7);
  EXPECT_EQ(c.retry.initial_ms, 10);
  EXPECT_EQ(c.webhooks.at("m_a").secret, "s");
  ApiConfig d;
  EXPECT_NE(LoadApiConfig(write("wait_ms: soon\n"), &d).find("wait_ms"), std::string::npos);
  EXPECT_NE(LoadApiConfig(write("webhooks: {endpoints: {m: {url: 'ftp://x'}}}\n"), &d).find("url"),
            std::string::npos);
  EXPECT_NE(
      LoadApiConfig(write("webhooks: {endpoints: {m: {url: 'http://x'}}}\n"), &d).find("secret"),
      std::string::npos);
  // A misspelt field is an error naming it, at every level, not a silent default.
  EXPECT_NE(LoadApiConfig(write("wait_msx: 5\n"), &d).find("wait_msx: unknown field"),
            std::string::npos);
  EXPECT_NE(LoadApiConfig(write("rate_limit: {per_sec: 5}\n"), &d).find("rate_limit.per_sec"),
            std::string::npos);
  EXPECT_NE(LoadApiConfig(write("webhooks: {retry: {initial: 5}}\n"), &d)
                .find("webhooks.retry.initial: unknown field"),
            std::string::npos);
  EXPECT_NE(LoadApiConfig(write("webhooks: {endpoints: {m: {url: 'http://x', secret: s, "
                                "secrte_env: E}}}\n"),
                          &d)
                .find("webhooks.endpoints.m.secrte_env: unknown field"),
            std::string::npos);
}

// Issue 20: every internal status has one public status, in Stripe's vocabulary.
TEST(Objects, EveryInternalStatusMapsToAPublicOne) {
  namespace ev = ::payments::events::v1;
  const std::map<ev::PaymentStatus, std::string> expected = {
      {ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION, "requires_confirmation"},
      {ev::PAYMENT_STATUS_AUTHORIZING, "processing"},
      {ev::PAYMENT_STATUS_PROCESSING, "processing"},
      {ev::PAYMENT_STATUS_REQUIRES_CAPTURE, "requires_capture"},
      {ev::PAYMENT_STATUS_SUCCEEDED, "succeeded"},
      {ev::PAYMENT_STATUS_FAILED, "requires_payment_method"},  // nothing processed
      {ev::PAYMENT_STATUS_CANCELED, "canceled"},
      {ev::PAYMENT_STATUS_VOIDED, "canceled"},
  };
  for (int s = ev::PaymentStatus_MIN; s <= ev::PaymentStatus_MAX; ++s) {
    if (!ev::PaymentStatus_IsValid(s) || s == ev::PAYMENT_STATUS_UNSPECIFIED) continue;
    const auto status = static_cast<ev::PaymentStatus>(s);
    ASSERT_TRUE(expected.count(status)) << "unmapped: " << ev::PaymentStatus_Name(status);
    EXPECT_EQ(internal::PublicStatus(status, 0), expected.at(status))
        << ev::PaymentStatus_Name(status);
  }
  // A failed payment that processed part of its amount (reversed) cannot try again.
  EXPECT_EQ(internal::PublicStatus(ev::PAYMENT_STATUS_FAILED, 500), "canceled");
}

::payments::projection::v1::PaymentView HeldPayment() {
  namespace ev = ::payments::events::v1;
  ::payments::projection::v1::PaymentView v;
  v.set_payment_id("pay_1");
  v.set_merchant_id("m_1");
  v.set_status(ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  v.set_currency("EUR");
  v.set_requested_minor(2500);
  v.set_authorized_minor(2500);
  v.set_captured_minor(1000);
  v.set_created_at_ms(1'700'000'000'999);
  v.set_capture_mode(::payments::types::v1::CAPTURE_MODE_MANUAL);
  v.set_request_hash("secret-internal");
  v.set_last_sequence(7);
  return v;
}

TEST(Objects, APaymentIntentCarriesIntegerAmountsAndNoInternals) {
  const nlohmann::json meta = {{"order", "42"}};
  const nlohmann::json o = internal::PaymentIntent(HeldPayment(), meta);
  EXPECT_EQ(o["id"], "pay_1");
  EXPECT_EQ(o["object"], "payment_intent");
  EXPECT_EQ(o["status"], "requires_capture");
  EXPECT_EQ(o["amount"], 2500);
  EXPECT_EQ(o["amount_capturable"], 1500);
  EXPECT_EQ(o["amount_received"], 1000);
  EXPECT_EQ(o["amount_refunded"], 0);
  EXPECT_EQ(o["currency"], "eur");
  EXPECT_EQ(o["created"], 1'700'000'000);
  EXPECT_EQ(o["capture_method"], "manual");
  EXPECT_EQ(o["metadata"], meta);
  EXPECT_TRUE(o["last_payment_error"].is_null());
  EXPECT_TRUE(o["cancellation_reason"].is_null());
  for (const char* internal :
       {"merchant_id", "request_hash", "last_sequence", "plan", "partition", "attempts"})
    EXPECT_FALSE(o.contains(internal)) << internal;
  EXPECT_EQ(internal::PaymentIntent(HeldPayment(), nullptr)["metadata"], nlohmann::json::object());
}

// The hot path's PaymentIntent text is the nlohmann object's dump, byte for byte: every
// status, escapes, non-ASCII text, a failed attempt, metadata present, absent and invalid.
TEST(Objects, PaymentIntentJsonIsThePaymentIntentsDump) {
  namespace ev = ::payments::events::v1;
  namespace pv = ::payments::projection::v1;
  namespace types = ::payments::types::v1;
  std::vector<pv::PaymentView> views;
  for (int s = ev::PaymentStatus_MIN; s <= ev::PaymentStatus_MAX; ++s) {
    if (!ev::PaymentStatus_IsValid(s)) continue;
    pv::PaymentView v = HeldPayment();
    v.set_status(static_cast<ev::PaymentStatus>(s));
    views.push_back(v);
  }
  pv::PaymentView odd = HeldPayment();
  odd.set_status(ev::PAYMENT_STATUS_CANCELED);
  odd.set_failure_reason(
      "quote \" slash \\ tab \t nl \n cr \r bs \b ff \f ctl \x01\x1f del \x7f /");
  odd.set_customer_reference("caf\xc3\xa9 \xe2\x82\xac");
  odd.set_payment_id("pay_\"x\"");
  odd.set_method(types::PAYMENT_METHOD_APPLE_PAY);
  odd.set_capture_mode(types::CAPTURE_MODE_AUTOMATIC);
  odd.set_created_at_ms(-1'500);
  views.push_back(odd);
  pv::PaymentView failed = HeldPayment();
  failed.set_status(ev::PAYMENT_STATUS_FAILED);
  auto* a = failed.add_attempts();
  a->set_kind(ev::OPERATION_KIND_SALE);
  a->set_outcome(pv::ATTEMPT_OUTCOME_FAILED);
  a->set_error_code(types::ERROR_CODE_DECLINED);
  views.push_back(failed);
  for (const pv::PaymentView& v : views) {
    for (const std::string meta : {"", R"({"order":"42","a":"\u00e9"})", "not json", "[1]"}) {
      const nlohmann::json m =
          meta.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(meta, nullptr, false);
      EXPECT_EQ(internal::PaymentIntentJson(v, meta), internal::PaymentIntent(v, m).dump())
          << ev::PaymentStatus_Name(v.status()) << " " << meta;
    }
  }
}

// A webhook's body is written directly; it is the nlohmann object's dump, byte for byte.
TEST(Webhooks, ADeliveryBodyIsTheEventObjectsDump) {
  namespace ev = ::payments::events::v1;
  ev::EventEnvelope e;
  e.set_event_id("evt_\"1\"\n");
  e.set_merchant_id("m_caf\xc3\xa9");
  e.set_payment_id("pay_1");
  e.set_occurred_at_ms(1'700'000'000'999);
  const nlohmann::json object = internal::PaymentIntent(HeldPayment(), nullptr);
  for (const nlohmann::json& o : {object, nlohmann::json(nullptr)}) {
    const nlohmann::json expected{{"id", e.event_id()},
                                  {"object", "event"},
                                  {"created", e.occurred_at_ms() / 1000},
                                  {"event_id", e.event_id()},
                                  {"type", "payment.created"},
                                  {"occurred_at_ms", e.occurred_at_ms()},
                                  {"merchant_id", e.merchant_id()},
                                  {"payment_id", e.payment_id()},
                                  {"data", {{"object", o}}}};
    EXPECT_EQ(internal::DeliveryOf(e, "payment.created", o).body, expected.dump());
    EXPECT_EQ(internal::DeliveryOfJson(e, "payment.created", o.dump()).body, expected.dump());
  }
}

TEST(Objects, TheLastFailedStepAttemptIsTheLastPaymentError) {
  namespace ev = ::payments::events::v1;
  namespace pv = ::payments::projection::v1;
  namespace types = ::payments::types::v1;
  struct Case {
    types::ErrorCode code;
    const char* type;
    const char* error_code;
    nlohmann::json decline_code;
  };
  const std::vector<Case> cases = {
      {types::ERROR_CODE_DECLINED, "card_error", "card_declined", "generic_decline"},
      {types::ERROR_CODE_HARD_DECLINE, "card_error", "card_declined", "do_not_honor"},
      {types::ERROR_CODE_INVALID_CARD, "card_error", "invalid_number", nullptr},
      {types::ERROR_CODE_PROCESSOR_UNAVAILABLE, "api_error", "processing_error", nullptr},
  };
  for (const Case& t : cases) {
    pv::PaymentView v = HeldPayment();
    v.set_status(ev::PAYMENT_STATUS_FAILED);
    auto* a = v.add_attempts();
    a->set_kind(ev::OPERATION_KIND_SALE);
    a->set_outcome(pv::ATTEMPT_OUTCOME_FAILED);
    a->set_error_code(t.code);
    const nlohmann::json o = internal::PaymentIntent(v, nullptr);
    EXPECT_EQ(o["status"], "canceled");
    EXPECT_EQ(o["cancellation_reason"], "automatic");
    EXPECT_EQ(o["last_payment_error"]["type"], t.type) << o.dump();
    EXPECT_EQ(o["last_payment_error"]["code"], t.error_code) << o.dump();
    EXPECT_EQ(o["last_payment_error"]["decline_code"], t.decline_code) << o.dump();
    EXPECT_FALSE(o["last_payment_error"]["message"].get<std::string>().empty());
    // A later step that succeeded clears it; a refund that failed is not a payment error.
    auto* next = v.add_attempts();
    next->set_kind(ev::OPERATION_KIND_SALE);
    next->set_outcome(pv::ATTEMPT_OUTCOME_SUCCEEDED);
    auto* refund = v.add_attempts();
    refund->set_kind(ev::OPERATION_KIND_REFUND);
    refund->set_outcome(pv::ATTEMPT_OUTCOME_FAILED);
    EXPECT_TRUE(internal::LastPaymentError(v).is_null());
  }
}

// Issue 20 item 3: a refund is the core's refund operations grouped by refund id; its
// public id names its payment, so it is found without an index.
// Issue 20 item 2: a payment whose plan failed with nothing processed awaits another
// payment method, and its final answer is a 402 card error carrying the PaymentIntent.
TEST(Objects, ADeclinedPaymentRequiresAPaymentMethodAndAnswers402) {
  namespace ev = ::payments::events::v1;
  namespace pv = ::payments::projection::v1;
  namespace types = ::payments::types::v1;
  pv::PaymentView v = HeldPayment();
  v.set_status(ev::PAYMENT_STATUS_FAILED);
  v.set_authorized_minor(0);
  auto* a = v.add_attempts();
  a->set_kind(ev::OPERATION_KIND_SALE);
  a->set_outcome(pv::ATTEMPT_OUTCOME_FAILED);
  a->set_error_code(types::ERROR_CODE_DECLINED);
  const nlohmann::json o = internal::PaymentIntent(v, nullptr);
  EXPECT_EQ(o["status"], "requires_payment_method");
  EXPECT_TRUE(o["cancellation_reason"].is_null());

  const http::Response r = internal::Finalize(internal::PaymentAnswer(201, o));
  EXPECT_EQ(r.status, 402);
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["status"], 402);
  EXPECT_EQ(body["error"]["type"], "card_error");
  EXPECT_EQ(body["error"]["code"], "card_declined");
  EXPECT_EQ(body["error"]["decline_code"], "generic_decline");
  EXPECT_EQ(body["error"]["payment_intent"], o);

  // Anything else is answered with the object and the success status.
  v.set_authorized_minor(100);  // processed part of it: failed for good
  const nlohmann::json failed = internal::PaymentIntent(v, nullptr);
  EXPECT_EQ(failed["status"], "canceled");
  EXPECT_EQ(internal::PaymentAnswer(200, failed).status, 200);
}

TEST(Objects, ARefundIsItsOperationsAndItsIdNamesItsPayment) {
  namespace ev = ::payments::events::v1;
  namespace pv = ::payments::projection::v1;
  const std::string pub = internal::PublicRefundId("pay_9", "ref_00ff");
  EXPECT_EQ(pub, "re_00ff_pay_9");
  const auto parsed = internal::ParseRefundId(pub);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->payment_id, "pay_9");
  EXPECT_EQ(parsed->refund_id, "ref_00ff");
  for (const char* bad : {"pay_9", "re_", "re__pay_9", "re_00ff_", "re_xyz_pay_9"})
    EXPECT_FALSE(internal::ParseRefundId(bad).has_value()) << bad;

  pv::PaymentView v = HeldPayment();
  const auto add = [&](const std::string& key, int64_t amount, pv::AttemptOutcome outcome) {
    auto* a = v.add_attempts();
    a->set_kind(ev::OPERATION_KIND_REFUND);
    a->set_idempotency_key(key);
    a->set_amount_requested_minor(amount);
    a->set_outcome(outcome);
    a->set_started_at_ms(1'700'000'005'000);
  };
  add("ref_aa:s0", 300, pv::ATTEMPT_OUTCOME_SUCCEEDED);
  add("ref_aa:s1", 200, pv::ATTEMPT_OUTCOME_SUCCEEDED);
  add("ref_bb:s0", 100, pv::ATTEMPT_OUTCOME_PENDING);
  add("ref_cc:s0", 50, pv::ATTEMPT_OUTCOME_SUCCEEDED);
  add("ref_cc:s1", 50, pv::ATTEMPT_OUTCOME_FAILED);
  const nlohmann::json all = internal::Refunds(v);
  ASSERT_EQ(all.size(), 3u) << all.dump();
  EXPECT_EQ(all[0]["id"], "re_aa_pay_1");
  EXPECT_EQ(all[0]["amount"], 500);
  EXPECT_EQ(all[0]["status"], "succeeded");
  EXPECT_EQ(all[0]["created"], 1'700'000'005);
  EXPECT_EQ(all[1]["status"], "pending");
  EXPECT_EQ(all[2]["status"], "failed");
  EXPECT_EQ(all[2]["failure_reason"], "unknown");
  EXPECT_TRUE(internal::Refund(v, "ref_dd").is_null());
}

// Issue 20 item 5: webhooks are state changes; a refused command is not one.
TEST(Webhooks, ARefusedCommandIsNoWebhookAndStateChangesAre) {
  namespace ev = ::payments::events::v1;
  ev::EventEnvelope rejected;
  rejected.mutable_command_rejected()->set_reason(ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_FALSE(internal::WebhookType(rejected).has_value());
  ev::EventEnvelope canceled;
  canceled.mutable_payment_canceled()->set_reason("customer left");
  EXPECT_EQ(internal::WebhookType(canceled), "payment.canceled");
  ev::EventEnvelope refunded;
  refunded.mutable_refund_succeeded()->set_refund_id("ref_1");
  EXPECT_EQ(internal::WebhookType(refunded), "refund.succeeded");
}

TEST(Objects, RejectionsNameThePublicField) {
  EXPECT_EQ(internal::PublicField("amount.amount_minor"), "amount");
  EXPECT_EQ(internal::PublicField("amount_minor"), "amount");
  EXPECT_EQ(internal::PublicField("amount.currency"), "currency");
  EXPECT_EQ(internal::PublicField("method"), "payment_method");
  EXPECT_EQ(internal::PublicField("metadata.k"), "metadata.k");
  EXPECT_EQ(internal::PublicMessage("amount_minor must be > 0, got 0"),
            "amount must be > 0, got 0");
  EXPECT_EQ(internal::ErrorType(401, "unauthorized"), "authentication_error");
  EXPECT_EQ(internal::ErrorType(409, "idempotency_key_reused"), "idempotency_error");
  EXPECT_EQ(internal::ErrorType(422, "amount_not_positive"), "invalid_request_error");
  EXPECT_EQ(internal::ErrorType(503, "log_unavailable"), "api_error");
}

// Issue 20: an Idempotency-Key is replayable for the window, then free again, and the
// sweep deletes expired records a bounded number at a time.
TEST(ResponseStore, KeysExpireAfterTheWindowAndTheSweepIsBounded) {
  internal::ResponseStore store;
  ASSERT_EQ(store.Open((TempDir("responses") / "db").string()).ToString(), "ok");
  constexpr int64_t kWindow = 1'000;
  internal::StoredResponse first;
  first.request_hash = "h1";
  first.final = true;
  first.status = 201;
  first.body = "{}";
  first.payment_id = "pay_1";
  first.create = true;
  first.created_ms = 10'000;
  internal::StoredResponse seen;
  EXPECT_EQ(store.TryClaim("m", "k", first, &seen, 10'000, kWindow),
            internal::ResponseStore::Claim::kNew);
  EXPECT_EQ(store.TryClaim("m", "k", first, &seen, 10'999, kWindow),
            internal::ResponseStore::Claim::kExisting);
  EXPECT_EQ(seen.request_hash, "h1");
  internal::StoredResponse later = first;
  later.request_hash = "h2";
  later.created_ms = 11'000;
  EXPECT_EQ(store.TryClaim("m", "k", later, &seen, 11'000, kWindow),
            internal::ResponseStore::Claim::kNew)
      << "expired at created + window";
  EXPECT_EQ(store.TryClaim("m", "k", later, &seen, 11'001, kWindow),
            internal::ResponseStore::Claim::kExisting);
  EXPECT_EQ(seen.request_hash, "h2");

  for (int i = 0; i < 5; ++i) {
    internal::StoredResponse r = first;
    r.created_ms = 20'000;
    EXPECT_EQ(store.TryClaim("m", "old" + std::to_string(i), r, &seen, 20'000, kWindow),
              internal::ResponseStore::Claim::kNew);
  }
  // At 30'000 all six are expired: 2 examined per call, so it takes three calls.
  EXPECT_EQ(store.Sweep(30'000, kWindow, 2), 2);
  EXPECT_EQ(store.Sweep(30'000, kWindow, 2), 2);
  EXPECT_EQ(store.Sweep(30'000, kWindow, 2), 2);
  EXPECT_EQ(store.Sweep(30'000, kWindow, 2), 0);
  // Metadata is not a stored response: the sweep leaves it, and the first write wins.
  EXPECT_TRUE(store.PutMetadata("pay_1", R"({"a":"1"})").ok());
  EXPECT_TRUE(store.PutMetadata("pay_1", R"({"a":"2"})").ok());
  EXPECT_EQ(store.Sweep(30'000, kWindow, 10), 0);
  EXPECT_EQ(store.Metadata("pay_1"), R"({"a":"1"})");
  EXPECT_EQ(store.Metadata("pay_2"), "");
}

// A pending refund's claim keeps what makes its repeat answer a Refund: the refund flag and,
// once the writer named it, its core refund id (they were once not stored at all).
TEST(ResponseStore, ARefundsClaimKeepsItsRefundFields) {
  internal::ResponseStore store;
  ASSERT_EQ(store.Open((TempDir("responses-refund") / "db").string()).ToString(), "ok");
  internal::StoredResponse pending;
  pending.request_hash = "h";
  pending.payment_id = "pay_1";
  pending.refund = true;
  pending.created_ms = 1'000;
  internal::StoredResponse seen;
  ASSERT_EQ(store.TryClaim("m", "k", pending, &seen, 1'000, 60'000),
            internal::ResponseStore::Claim::kNew);
  pending.refund_id = "ref_00ff";
  ASSERT_TRUE(store.Finish("m", "k", pending).ok());
  ASSERT_EQ(store.TryClaim("m", "k", pending, &seen, 1'001, 60'000),
            internal::ResponseStore::Claim::kExisting);
  EXPECT_TRUE(seen.refund);
  EXPECT_EQ(seen.refund_id, "ref_00ff");
  EXPECT_FALSE(seen.final);
  ASSERT_TRUE(store.Release("m", "k").ok());
  EXPECT_EQ(store.TryClaim("m", "k", pending, &seen, 1'002, 60'000),
            internal::ResponseStore::Claim::kNew);
}

// Records are written in a compact binary form; a store written before it (records as JSON
// objects) stays readable: its claims are still claims, with every field.
TEST(ResponseStore, ReadsRecordsWrittenAsJsonByEarlierBuilds) {
  const std::string dir = (TempDir("responses-json") / "db").string();
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string key = "r/m";
    key.push_back('\0');
    key += "k";
    const nlohmann::json old = {{"h", "h1"},  {"f", true},    {"s", 201},
                                {"b", "{}"},  {"p", "pay_1"}, {"c", true},
                                {"t", 5'000}, {"k", true},    {"d", "ref_1"}};
    ASSERT_TRUE(db->Put({}, key, old.dump()).ok());
  }
  internal::ResponseStore store;
  ASSERT_EQ(store.Open(dir).ToString(), "ok");
  internal::StoredResponse pending;
  pending.request_hash = "h1";
  pending.created_ms = 6'000;
  internal::StoredResponse seen;
  ASSERT_EQ(store.TryClaim("m", "k", pending, &seen, 6'000, 60'000),
            internal::ResponseStore::Claim::kExisting);
  EXPECT_EQ(seen.request_hash, "h1");
  EXPECT_TRUE(seen.final);
  EXPECT_EQ(seen.status, 201);
  EXPECT_EQ(seen.body, "{}");
  EXPECT_EQ(seen.payment_id, "pay_1");
  EXPECT_TRUE(seen.create);
  EXPECT_EQ(seen.created_ms, 5'000);
  EXPECT_TRUE(seen.refund);
  EXPECT_EQ(seen.refund_id, "ref_1");
  // Rewritten in the new form, read back the same (a negative time survives too).
  seen.created_ms = -7;
  seen.body = std::string(300, 'x');
  ASSERT_TRUE(store.Finish("m", "k", seen).ok());
  internal::StoredResponse again;
  ASSERT_EQ(store.TryClaim("m", "k", pending, &again, -6, 60'000),
            internal::ResponseStore::Claim::kExisting);
  EXPECT_EQ(again.created_ms, -7);
  EXPECT_EQ(again.body, seen.body);
  EXPECT_EQ(again.refund_id, "ref_1");
  EXPECT_EQ(again.status, 201);
}

// A POST waits once for the log's acknowledgement and the decision: a refusal or a missing
// acknowledgement fails the wait (503, claim released), and an acknowledgement alone is
// enough once the decision's deadline has passed (202). Deadlines here are already past or
// an hour away: nothing depends on timing.
TEST(EventFollower, AWaitNeedsTheLogsAcknowledgement) {
  using Clock = std::chrono::steady_clock;
  internal::EventFollower f(nullptr);
  const auto past = Clock::now() - std::chrono::seconds(1);
  const auto later = Clock::now() + std::chrono::hours(1);

  auto refused = f.Expect("c1", "pay_1");
  internal::EventFollower::Acknowledged(refused, "broker down");
  EXPECT_EQ(f.Wait(refused, later, later).append_error, "broker down");

  auto silent = f.Expect("c2", "pay_2");
  const internal::Decision timed_out = f.Wait(silent, past, past);
  EXPECT_FALSE(timed_out.append_error.empty());
  EXPECT_FALSE(timed_out.decided);

  auto acked = f.Expect("c3", "pay_3");
  internal::EventFollower::Acknowledged(acked, "");
  internal::EventFollower::Acknowledged(acked, "late error");  // only the first answer counts
  const internal::Decision accepted = f.Wait(acked, past, later);
  EXPECT_EQ(accepted.append_error, "");
  EXPECT_FALSE(accepted.decided);

  // The decision's deadline has passed: the acknowledgement, from the appender's thread,
  // is what ends the wait.
  auto pending = f.Expect("c4", "pay_4");
  std::thread appender([&] { internal::EventFollower::Acknowledged(pending, ""); });
  const internal::Decision after = f.Wait(pending, past, later);
  appender.join();
  EXPECT_EQ(after.append_error, "");
}

// Nothing waits for the log: OnAnswer's callback comes from the timer thread when the
// decision's deadline passes after the acknowledgement, and Stop answers whatever is left.
TEST(EventFollower, OnAnswerIsCalledOnceAtTheDeadlineAndStopAnswersTheRest) {
  using Clock = std::chrono::steady_clock;
  auto f = std::make_unique<internal::EventFollower>(nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, internal::Decision>> answers;
  const auto record = [&](const std::string& who) {
    return [&, who](const internal::Decision& d) {
      std::lock_guard<std::mutex> lock(mu);
      answers.emplace_back(who, d);
      cv.notify_all();
    };
  };
  auto acked = f->Expect("c1", "pay_1");
  internal::EventFollower::Acknowledged(acked, "");
  f->OnAnswer(acked, Clock::now() + std::chrono::milliseconds(50),
              Clock::now() + std::chrono::hours(1), record("acked"));
  auto left = f->Expect("c2", "pay_2");  // neither acknowledged nor decided
  f->OnAnswer(left, Clock::now() + std::chrono::hours(1), Clock::now() + std::chrono::hours(1),
              record("left"));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !answers.empty(); }));
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_EQ(answers[0].first, "acked");
    EXPECT_FALSE(answers[0].second.decided);
    EXPECT_EQ(answers[0].second.append_error, "");
  }
  internal::EventFollower::Acknowledged(acked, "late");  // answered already: nothing more
  f->Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].first, "left");
  EXPECT_FALSE(answers[1].second.append_error.empty());
}

// The follower's recent views are bounded in number (50,000, the oldest dropped first), not
// only by age: under load they were 60 s of every payment's view. A view updated since it
// was first kept stays, as its newer version.
TEST(EventFollower, RecentViewsAreBoundedOldestFirst) {
  internal::EventFollower f(nullptr);
  auto observe = f.Observer();
  const auto view = [](int i, uint64_t sequence) {
    ::payments::projection::v1::PaymentView v;
    v.set_payment_id("pay_" + std::to_string(i));
    v.set_last_sequence(sequence);
    return projection::Mutation{"p/pay_" + std::to_string(i), v.SerializeAsString()};
  };
  std::vector<projection::Mutation> batch;
  for (int i = 0; i < 60'000; ++i) {
    batch.push_back(view(i, 1));
    if (i == 30'000) batch.push_back(view(5, 2));  // pay_5 again, later
    if (batch.size() == 1'000) {
      observe({}, batch);
      batch.clear();
    }
  }
  observe({}, batch);
  EXPECT_FALSE(f.Recent("pay_0").has_value());
  EXPECT_FALSE(f.Recent("pay_9999").has_value());
  ASSERT_TRUE(f.Recent("pay_5").has_value());
  EXPECT_EQ(f.Recent("pay_5")->last_sequence(), 2u);
  EXPECT_TRUE(f.Recent("pay_10001").has_value());
  EXPECT_TRUE(f.Recent("pay_59999").has_value());
}

}  // namespace
}  // namespace payorch::api
