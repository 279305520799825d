// The inbound webhook endpoint: signatures, de-duplication, and what it appends.
#include "connectors/webhooks.h"

#include <gtest/gtest.h>
#include <httplib.h>

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
    o.append = [this](const cmd::CommandEnvelope& c) {
      if (fail_appends > 0) {
        --fail_appends;
        return std::string("broker down");
      }
      appended.push_back(c);
      return std::string();
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
    return receiver->Handle(r);
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
  o.append = [&](const cmd::CommandEnvelope& c) {
    std::lock_guard lock(mu);
    appended.push_back(c);
    return std::string();
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

}  // namespace
}  // namespace payorch::connectors
