// The inbound webhook endpoint: signatures, de-duplication, and what it appends.
#include "connectors/webhooks.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace payorch::connectors {
namespace {

namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

constexpr char kSecret[] = "whsec_test";
constexpr int64_t kNowMs = 1'700'000'000'000;

struct Fixture {
  Fixture() {
    WebhookOptions o;
    o.secrets = {{"stripe", kSecret}};
    o.clock = &clock;
    o.append = [this](const cmd::CommandEnvelope& c,
                      const std::function<void(const std::string&)>& done) {
      if (fail_appends > 0) {
        --fail_appends;
        done("broker down");
        return;
      }
      appended.push_back(c);
      done("");
    };
    receiver = std::make_unique<WebhookReceiver>(std::move(o));
  }
  http::Response Deliver(const std::string& body, const std::string& signature,
                         const std::string& processor = "stripe") {
    http::Request r;
    r.method = "POST";
    r.path = "/v1/webhooks/" + processor;
    r.path_params = {processor};
    r.body = body;
    r.headers.emplace("payorch-signature", signature);
    http::Response answer;
    answer.status = 0;  // no answer
    receiver->Handle(r, [&answer](http::Response res) { answer = std::move(res); });
    return answer;
  }
  http::Response DeliverSigned(const std::string& body) {
    return Deliver(body, SignWebhook(kSecret, kNowMs / 1000, body));
  }

  ManualClock clock{kNowMs};
  int fail_appends = 0;
  std::vector<cmd::CommandEnvelope> appended;
  std::unique_ptr<WebhookReceiver> receiver;
};

const std::string kSucceeded =
    R"({"id":"evt_1","type":"operation.succeeded","data":{"idempotency_key":"p1:s0:a1",)"
    R"("id":"ch_9","amount":1500,"metadata":{"payment_id":"p1"}}})";

TEST(Webhooks, ASignedSuccessBecomesOneGatewayResultCommand) {
  Fixture f;
  EXPECT_EQ(f.DeliverSigned(kSucceeded).status, 200);
  ASSERT_EQ(f.appended.size(), 1u);
  const cmd::CommandEnvelope& c = f.appended[0];
  EXPECT_EQ(c.command_id(), "webhook/stripe/evt_1");
  EXPECT_EQ(c.payment_id(), "p1");
  EXPECT_EQ(c.gateway_result().operation_key(), "p1:s0:a1");
  EXPECT_EQ(c.gateway_result().outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(c.gateway_result().amount_processed_minor(), 1500);
  EXPECT_EQ(c.gateway_result().processor_reference(), "ch_9");
  EXPECT_EQ(c.gateway_result().source(), "webhook");
}

TEST(Webhooks, DeliveredThreeTimesAppendsOnce) {
  Fixture f;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.DeliverSigned(kSucceeded).status, 200);
  EXPECT_EQ(f.appended.size(), 1u);
  EXPECT_EQ(f.receiver->probe().duplicates.load(), 2u);
}

TEST(Webhooks, AFailedAppendIsNotRememberedSoTheRetryGetsThrough) {
  Fixture f;
  f.fail_appends = 1;
  EXPECT_EQ(f.DeliverSigned(kSucceeded).status, 503);
  EXPECT_EQ(f.DeliverSigned(kSucceeded).status, 200);
  EXPECT_EQ(f.appended.size(), 1u);
}

TEST(Webhooks, FailureMapsTheProcessorCode) {
  Fixture f;
  const std::string body =
      R"({"id":"evt_2","type":"operation.failed","data":{"idempotency_key":"p1:s0:a1",)"
      R"("error":{"code":"card_declined"},"metadata":{"payment_id":"p1"}}})";
  EXPECT_EQ(f.DeliverSigned(body).status, 200);
  ASSERT_EQ(f.appended.size(), 1u);
  EXPECT_EQ(f.appended[0].gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(f.appended[0].gateway_result().error_code(), types::ERROR_CODE_DECLINED);
}

TEST(Webhooks, RefusesWhatIsNotProvablyFromTheProcessor) {
  Fixture f;
  const int64_t t = kNowMs / 1000;
  struct Case {
    const char* name;
    std::string signature;
    std::string body;
    std::string processor;
    int status;
  };
  const Case cases[] = {
      {"no signature", "", kSucceeded, "stripe", 401},
      {"wrong secret", SignWebhook("other", t, kSucceeded), kSucceeded, "stripe", 401},
      {"body changed", SignWebhook(kSecret, t, kSucceeded), kSucceeded + " ", "stripe", 401},
      {"stale", SignWebhook(kSecret, t - 301, kSucceeded), kSucceeded, "stripe", 401},
      {"future", SignWebhook(kSecret, t + 301, kSucceeded), kSucceeded, "stripe", 401},
      {"unknown processor", SignWebhook(kSecret, t, kSucceeded), kSucceeded, "adyen", 404},
      {"not json", SignWebhook(kSecret, t, "nope"), "nope", "stripe", 400},
      {"no payment id",
       SignWebhook(kSecret, t,
                   R"({"id":"e","type":"operation.succeeded","data":{"idempotency_key":"k"}})"),
       R"({"id":"e","type":"operation.succeeded","data":{"idempotency_key":"k"}})", "stripe", 400},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(f.Deliver(c.body, c.signature, c.processor).status, c.status) << c.name;
  }
  EXPECT_TRUE(f.appended.empty());
}

TEST(Webhooks, ServedOverHttpOnTheSharedServer) {
  Fixture f;
  http::Server server;
  WebhookOptions o;
  o.secrets = {{"stripe", kSecret}};
  std::vector<cmd::CommandEnvelope> appended;
  std::mutex mu;
  o.append = [&](const cmd::CommandEnvelope& c,
                 const std::function<void(const std::string&)>& done) {
    {
      std::lock_guard lock(mu);
      appended.push_back(c);
    }
    done("");
  };
  auto receiver = RegisterWebhookRoutes(server, std::move(o));
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port);
  httplib::Client client("127.0.0.1", *port);
  const int64_t now_s = SystemClock().NowMs() / 1000;
  httplib::Headers headers = {{"Payorch-Signature", SignWebhook(kSecret, now_s, kSucceeded)}};
  for (int i = 0; i < 3; ++i) {
    auto r = client.Post("/v1/webhooks/stripe", headers, kSucceeded, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  server.Stop();
  EXPECT_EQ(appended.size(), 1u);
}

// An append waiting for the log holds no worker: with one worker and three deliveries
// whose appends are not acknowledged yet, another request is still answered at once; the
// three are answered when the log acknowledges (one refused: 503, not remembered).
TEST(Webhooks, AppendsWaitingForTheLogHoldNoWorker) {
  http::Server server(http::ServerOptions{.threads = 1});
  WebhookOptions o;
  o.secrets = {{"stripe", kSecret}};
  std::mutex mu;
  std::vector<std::function<void(const std::string&)>> pending;
  o.append = [&](const cmd::CommandEnvelope&, std::function<void(const std::string&)> done) {
    std::lock_guard lock(mu);
    pending.push_back(std::move(done));
  };
  auto receiver = RegisterWebhookRoutes(server, std::move(o));
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port);
  const int64_t now_s = SystemClock().NowMs() / 1000;
  std::vector<int> statuses(3, 0);
  std::vector<std::thread> senders;
  for (int i = 0; i < 3; ++i) {
    senders.emplace_back([&, i] {
      std::string body = kSucceeded;
      body.replace(body.find("evt_1"), 5, "evt_w" + std::to_string(i));
      httplib::Client client("127.0.0.1", *port);
      client.set_read_timeout(10, 0);
      auto r = client.Post("/v1/webhooks/stripe",
                           {{"Payorch-Signature", SignWebhook(kSecret, now_s, body)}}, body,
                           "application/json");
      statuses[i] = r ? r->status : -1;
    });
  }
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (pending.size() == 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(pending.size(), 3u);
  }
  httplib::Client other("127.0.0.1", *port);
  other.set_read_timeout(2, 0);
  auto unsigned_post = other.Post("/v1/webhooks/stripe", kSucceeded, "application/json");
  ASSERT_TRUE(unsigned_post) << "the only worker is held by an append";
  EXPECT_EQ(unsigned_post->status, 401);
  {
    std::lock_guard lock(mu);
    pending[0]("");
    pending[1]("broker down");
    pending[2]("");
    pending.clear();  // an answered request's callback holds its connection
  }
  for (auto& t : senders) t.join();
  std::sort(statuses.begin(), statuses.end());
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 503}));
  EXPECT_EQ(receiver->probe().accepted.load(), 2u);
  EXPECT_EQ(receiver->probe().append_failed.load(), 1u);
  server.Stop();
}

}  // namespace
}  // namespace payorch::connectors
