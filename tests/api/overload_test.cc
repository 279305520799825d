// Overload is refused early and visibly (docs/overload.md), against `payorch run
// --merchant-api` on a `payorch broker`: with every gateway outcome unknown and a limit of
// two unknown outcomes, a new create answers 503 `overloaded` with Retry-After (nothing
// appended, nothing stored under its key), and a create appended to the log directly is
// rejected with REJECT_REASON_OVERLOADED, never dropped. And a stalled log (the broker
// stopped) holds no HTTP worker: reads are answered while 80 POSTs wait for it. Nor does
// a flood of unknown API keys, each an argon2id verification: a cached key is answered.
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include "api/e2e_support.h"
#include "command/hash.h"

namespace payorch::api::testing {
namespace {

TEST(Overload, NewPaymentsAreRefusedWhileOutcomesAreUnknown) {
  Stack stack("overload");
  ASSERT_TRUE(stack.StartBroker());
  // Every call times out (outcome unknown) and no retrieve can tell: the outcomes stay
  // unknown, so payorch stays overloaded for the whole test.
  const int port = stack.StartRun(
      "wait_ms: 500\nappend_timeout_ms: 2000\n",
      {"--gateways", "*=flaky:seed=1,timeout=1,retrieve_unknown=1", "--max-unknown-outcomes", "2"});
  ASSERT_NE(port, 0) << payorch::testing::ReadFile((stack.dir / "run1.log").string());
  const std::string key = stack.NewKey("m_cobranded");
  ASSERT_FALSE(key.empty());
  Client c("127.0.0.1", port);
  const json card = {
      {"amount", 1000}, {"currency", "USD"}, {"payment_method", "card"}, {"confirm", true}};

  for (const char* idem : {"before-1", "before-2"}) {
    Reply r = c.Post("/v1/payments", key, idem, card);
    EXPECT_EQ(r.status, 202) << "accepted, outcome unknown: " << r.raw;
  }
  // Once the connectors report the unknown outcomes, a new create is refused.
  Reply refused;
  int n = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        refused = c.Post("/v1/payments", key, "new-" + std::to_string(++n), card);
        return refused.status == 503;
      },
      std::chrono::seconds(20)))
      << refused.raw;
  EXPECT_EQ(refused.body["error"]["code"], "overloaded") << refused.raw;
  ASSERT_TRUE(refused.headers.count("Retry-After")) << refused.raw;
  EXPECT_GE(std::stoi(refused.headers.find("Retry-After")->second), 1);
  // Not stored: the same key is refused again (and would be taken once there is room),
  // never replayed as something else.
  Reply again = c.Post("/v1/payments", key, "new-" + std::to_string(n), card);
  EXPECT_EQ(again.status, 503) << again.raw;
  // Work already accepted goes on: its payment still reads back.
  Reply before = c.Get("/v1/payments/" + payorch::DerivePaymentId("m_cobranded", "before-1"), key);
  EXPECT_EQ(before.status, 200) << before.raw;

  // On the log: a create appended directly is decided, and rejected with a reason.
  const std::string line =
      R"({"schemaVersion":1,"commandId":"direct-1","create":{"merchantId":"m_cobranded",)"
      R"("idempotencyKey":"direct-1","amount":{"amountMinor":"700","currency":"USD"},)"
      R"("method":"PAYMENT_METHOD_CARD","confirm":true}})";
  std::ofstream(stack.dir / "direct.jsonl") << line << "\n";
  auto sent = payorch::projection::testing::Shell(std::string(PAYORCH_BINARY) + " send --brokers " +
                                                  stack.bootstrap + " --file " +
                                                  (stack.dir / "direct.jsonl").string() + " 2>&1");
  ASSERT_EQ(sent.exit_code, 0) << sent.out;
  std::string events;
  EXPECT_TRUE(Eventually(
      [&] {
        events = payorch::projection::testing::Shell(std::string(PAYORCH_BINARY) +
                                                     " tail --brokers " + stack.bootstrap +
                                                     " --from-beginning --topic events 2>&1")
                     .out;
        return events.find("REJECT_REASON_OVERLOADED") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << events.substr(0, 4000);
  EXPECT_NE(events.find("overload/refused"), std::string::npos);
}

// Payment POSTs answer asynchronously (docs/http.md, "Threads"): with the broker stopped,
// 80 POSTs waiting for the log hold none of the API's workers, so a read is answered at
// once; each POST then gets a documented answer. With a worker per waiting POST (64 before)
// the read queued behind them until append_timeout_ms (3 s), past its 2 s client timeout.
TEST(Overload, ReadsAreAnsweredWhilePostsWaitForAStalledLog) {
  Stack stack("stalled");
  ASSERT_TRUE(stack.StartBroker());
  const int port = stack.StartRun("wait_ms: 1000\nappend_timeout_ms: 3000\n");
  ASSERT_NE(port, 0) << payorch::testing::ReadFile((stack.dir / "run1.log").string());
  const std::string key = stack.NewKey("m_cobranded");
  ASSERT_FALSE(key.empty());
  const json body = {{"amount", 1000}, {"currency", "USD"}, {"payment_method", "card"}};
  Client first("127.0.0.1", port);
  Reply created = first.Post("/v1/payments", key, "stall-0", body);
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string id = created.body.value("id", "");

  ASSERT_EQ(::kill(stack.broker.pid(), SIGSTOP), 0);
  struct Resume {  // the broker runs again however the test ends
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{stack.broker.pid()};
  std::atomic<int> documented{0};
  std::vector<std::thread> posts;
  for (int i = 0; i < 80; ++i) {
    posts.emplace_back([&, i] {
      Client c("127.0.0.1", port);
      Reply r = c.Post("/v1/payments", key, "stall-" + std::to_string(i + 1), body);
      const bool unavailable = r.status == 503 && r.body.is_object() && r.body.contains("error") &&
                               r.body["error"].value("code", "") == "log_unavailable";
      if (r.status == 201 || r.status == 202 || unavailable) ++documented;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the POSTs are waiting
  httplib::Client reader("127.0.0.1", port);
  reader.set_read_timeout(2, 0);  // a liveness bound: queued behind 64 POSTs it took 3 s
  auto got = reader.Get(("/v1/payments/" + id).c_str(), {{"Authorization", "Bearer " + key}});
  EXPECT_TRUE(got) << "the read was not answered while POSTs waited for the log";
  if (got) {
    EXPECT_EQ(got->status, 200) << got->body;
  }
  ::kill(stack.broker.pid(), SIGCONT);
  for (auto& t : posts) t.join();
  EXPECT_EQ(documented.load(), 80);
}

// Every unknown key id costs an argon2id verification (~30 ms of CPU, two at a time). They
// run on the verifier's own threads behind a bounded queue, so a flood of them holds no
// worker: a request with a verified (cached) key is answered meanwhile. Before, each
// verification held one of the workers, and 150 of them queued every other request.
TEST(Overload, AFloodOfUnknownKeysHoldsNoWorker) {
  Stack stack("keyflood");
  ASSERT_TRUE(stack.StartBroker());
  const int port = stack.StartRun("wait_ms: 2000\n");
  ASSERT_NE(port, 0) << payorch::testing::ReadFile((stack.dir / "run1.log").string());
  const std::string key = stack.NewKey("m_cobranded");
  ASSERT_FALSE(key.empty());
  Client good("127.0.0.1", port);
  ASSERT_EQ(good.Get("/v1/payments", key).status, 200);  // verified once, then cached

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> documented{0};  // 401 unauthorized, or 503 overloaded past the queue
  std::vector<std::thread> attackers;
  for (int i = 0; i < 150; ++i) {
    attackers.emplace_back([&, i] {
      Client c("127.0.0.1", port);
      for (int n = 0; !stop.load(); ++n) {
        // A well-formed key whose id does not exist.
        const std::string id = fmt::format("{:016x}", (uint64_t{1} << 40) * (i + 1) + n);
        Reply r = c.Get("/v1/payments", "pk_" + id + "_" + std::string(64, 'a'));
        ++answered;
        const std::string code =
            r.body.is_object() && r.body.contains("error") ? r.body["error"].value("code", "") : "";
        if ((r.status == 401 && code == "unauthorized") ||
            (r.status == 503 && code == "overloaded" && r.headers.count("Retry-After") == 1)) {
          ++documented;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));  // verifications queued
  httplib::Client reader("127.0.0.1", port);
  reader.set_read_timeout(2, 0);  // a liveness bound: behind 150 verifications it took ~2.5 s
  auto got = reader.Get("/v1/payments", {{"Authorization", "Bearer " + key}});
  EXPECT_TRUE(got) << "a cached key was not answered during the flood";
  if (got) {
    EXPECT_EQ(got->status, 200) << got->body;
  }
  stop = true;
  for (auto& t : attackers) t.join();
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(documented.load(), answered.load()) << "every refusal has the documented shape";
}

}  // namespace
}  // namespace payorch::api::testing
