// The Stripe connector: the mapping table (pure), its configuration, the exact requests it
// sends, and what it makes of the answers stripe-mock cannot give (card errors, 429/5xx,
// processing, the seal of an open key), against a fake Stripe on loopback. The checks
// against stripe-mock itself are in contract_test.cc.
#include "connectors/stripe_gateway.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "connectors/dispatcher.h"
#include "connectors/registry.h"
#include "unit/connectors/stripe_support.h"
#include "unit/connectors/test_support.h"

namespace payorch::connectors {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using testing::FakeStripe;
using testing::JsonAnswer;

constexpr char kSecret[] = "sk_test_payorch_secret";

TEST(MapStripeAnswer, MapsStatusesErrorsAndTransportToOutcomes) {
  struct Case {
    StripeObject object;
    Transport transport;
    int status;
    const char* body;
    bool retrieve;
    cmd::GatewayOutcome outcome;
    types::ErrorCode code;
    int64_t amount;
  };
  using O = StripeObject;
  constexpr auto kA = Transport::kAnswered;
  const auto S = cmd::GATEWAY_OUTCOME_SUCCEEDED;
  const auto F = cmd::GATEWAY_OUTCOME_FAILED;
  const auto U = cmd::GATEWAY_OUTCOME_UNKNOWN;
  const auto none = types::ERROR_CODE_UNSPECIFIED;
  const Case cases[] = {
      // PaymentIntent statuses after create+confirm.
      {O::kCharge, kA, 200,
       R"({"id":"pi_1","status":"requires_capture","amount":1000,"amount_capturable":1000})", false,
       S, none, 1000},
      {O::kCharge, kA, 200,
       R"({"id":"pi_1","status":"succeeded","amount":1000,"amount_received":1000})", false, S, none,
       1000},
      {O::kCharge, kA, 200, R"({"id":"pi_1","status":"processing"})", false, U,
       types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, kA, 200, R"({"id":"pi_1","status":"requires_action"})", false, F,
       types::ERROR_CODE_DECLINED, 0},
      {O::kCharge, kA, 200,
       R"({"id":"pi_1","status":"requires_payment_method","last_payment_error":
           {"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}})",
       false, F, types::ERROR_CODE_DECLINED, 0},
      {O::kCharge, kA, 200,
       R"({"id":"pi_1","status":"requires_payment_method","last_payment_error":
           {"type":"card_error","code":"incorrect_number"}})",
       false, F, types::ERROR_CODE_INVALID_CARD, 0},
      {O::kCharge, kA, 200, R"({"id":"pi_1","status":"requires_payment_method"})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
      {O::kCharge, kA, 200, R"({"id":"pi_1","status":"canceled"})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
      {O::kCharge, kA, 200, "not json", false, U, types::ERROR_CODE_TIMEOUT, 0},
      // Card errors: decline_code first, then code.
      {O::kCharge, kA, 402,
       R"({"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline"}})",
       false, F, types::ERROR_CODE_DECLINED, 0},
      {O::kCharge, kA, 402,
       R"({"error":{"type":"card_error","code":"card_declined","decline_code":"fraudulent"}})",
       false, F, types::ERROR_CODE_HARD_DECLINE, 0},
      {O::kCharge, kA, 402,
       R"({"error":{"type":"card_error","code":"card_declined","decline_code":"stolen_card"}})",
       false, F, types::ERROR_CODE_HARD_DECLINE, 0},
      {O::kCharge, kA, 402, R"({"error":{"type":"card_error","code":"incorrect_cvc"}})", false, F,
       types::ERROR_CODE_INVALID_CARD, 0},
      {O::kCharge, kA, 402, R"({"error":{"type":"card_error","code":"expired_card"}})", false, F,
       types::ERROR_CODE_DECLINED, 0},
      {O::kCharge, kA, 402,
       R"({"error":{"type":"card_error","code":"authentication_required",
                    "decline_code":"authentication_required"}})",
       false, F, types::ERROR_CODE_DECLINED, 0},
      {O::kCharge, kA, 402, R"({"error":{"type":"card_error","code":"card_declined"}})", true, F,
       types::ERROR_CODE_DECLINED, 0},
      // Refusals, key conflicts, availability.
      {O::kCharge, kA, 400, R"({"error":{"type":"invalid_request_error"}})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
      {O::kCharge, kA, 401, "{}", false, F, types::ERROR_CODE_UNKNOWN, 0},
      {O::kCapture, kA, 404, "{}", false, F, types::ERROR_CODE_UNKNOWN, 0},
      {O::kCharge, kA, 400, R"({"error":{"type":"idempotency_error"}})", false, F,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0},
      {O::kCharge, kA, 409, R"({"error":{"type":"idempotency_error"}})", false, U,
       types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, kA, 429, R"({"error":{"type":"invalid_request_error","code":"rate_limit"}})",
       false, F, types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0},
      {O::kCharge, kA, 500, R"({"error":{"type":"api_error"}})", false, F,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0},
      {O::kRefund, kA, 502, "", false, F, types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0},
      {O::kCharge, kA, 503, "", false, F, types::ERROR_CODE_PROCESSOR_UNAVAILABLE, 0},
      {O::kCharge, kA, 504, "", false, U, types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, kA, 302, "", false, U, types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, kA, 429, "{}", true, U, types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, kA, 503, "{}", true, U, types::ERROR_CODE_TIMEOUT, 0},
      // Transport.
      {O::kCharge, Transport::kNotSent, 0, "", false, F, types::ERROR_CODE_NETWORK_FAILURE, 0},
      {O::kCharge, Transport::kNotSent, 0, "", true, U, types::ERROR_CODE_NETWORK_FAILURE, 0},
      {O::kCharge, Transport::kTimedOut, 0, "", false, U, types::ERROR_CODE_TIMEOUT, 0},
      {O::kCharge, Transport::kBrokenAfterSend, 0, "", false, U, types::ERROR_CODE_TIMEOUT, 0},
      // Capture, cancel (void), refund.
      {O::kCapture, kA, 200,
       R"({"id":"pi_1","status":"succeeded","amount":1000,"amount_received":600})", false, S, none,
       600},
      {O::kCapture, kA, 200, R"({"id":"pi_1","status":"requires_capture"})", false, U,
       types::ERROR_CODE_TIMEOUT, 0},
      {O::kCapture, kA, 200, R"({"id":"pi_1","status":"canceled"})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
      {O::kCancel, kA, 200, R"({"id":"pi_1","status":"canceled","amount":1000})", false, S, none,
       1000},
      {O::kCancel, kA, 200, R"({"id":"pi_1","status":"succeeded","amount":1000})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
      {O::kRefund, kA, 200, R"({"id":"re_1","status":"succeeded","amount":300})", false, S, none,
       300},
      {O::kRefund, kA, 200, R"({"id":"re_1","status":"pending","amount":300})", false, U,
       types::ERROR_CODE_TIMEOUT, 0},
      {O::kRefund, kA, 200, R"({"id":"re_1","status":"failed","amount":300})", false, F,
       types::ERROR_CODE_UNKNOWN, 0},
  };
  for (const Case& c : cases) {
    const GatewayAnswer a = MapStripeAnswer(c.object, c.transport, c.status, c.body, c.retrieve);
    EXPECT_EQ(a.outcome, c.outcome) << c.status << " " << c.body;
    EXPECT_EQ(a.error_code, c.code) << c.status << " " << c.body;
    EXPECT_EQ(a.amount_processed_minor, c.amount) << c.status << " " << c.body;
  }
}

TEST(MapStripeAnswer, KeepsTheObjectIdAsTheProcessorReference) {
  EXPECT_EQ(MapStripeAnswer(StripeObject::kCharge, Transport::kAnswered, 200,
                            R"({"id":"pi_9","status":"processing"})", false)
                .processor_reference,
            "pi_9");
  EXPECT_EQ(
      MapStripeAnswer(StripeObject::kCharge, Transport::kAnswered, 402,
                      R"({"error":{"type":"card_error","payment_intent":{"id":"pi_8"}}})", false)
          .processor_reference,
      "pi_8");
}

TEST(FormEncode, PercentEncodesValuesAndKeepsBracketsInNames) {
  EXPECT_EQ(FormEncode({{"metadata[payorch_key]", "pay_1:s0:a1"}, {"a b", "x&y=z/é"}}),
            "metadata[payorch_key]=pay_1%3As0%3Aa1&a%20b=x%26y%3Dz%2F%C3%A9");
  EXPECT_EQ(FormEncode({}), "");
}

TEST(ParseStripeGatewaySpec, ReadsKeysAndRefusesBadOnesWithoutEchoingSecrets) {
  ::setenv("PAYORCH_TEST_STRIPE_KEY", kSecret, 1);
  auto ok = ParseStripeGatewaySpec(
      "secret_env=PAYORCH_TEST_STRIPE_KEY,payment_method=pm_card_visa,timeout_ms=800");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value().base_url, "https://api.stripe.com");
  EXPECT_EQ(ok.value().stripe_version, std::string(kStripeApiVersion));
  EXPECT_EQ(ok.value().secret_key, kSecret);
  EXPECT_EQ(ok.value().timeout_ms, 800u);
  auto other = ParseStripeGatewaySpec(
      "secret_env=PAYORCH_TEST_STRIPE_KEY, payment_method=pm_x, base_url=http://127.0.0.1:1/, "
      "stripe_version=2024-06-20");
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(other.value().base_url, "http://127.0.0.1:1");
  EXPECT_EQ(other.value().stripe_version, "2024-06-20");
  for (const char* bad : {"payment_method=pm_x", "secret_env=PAYORCH_UNSET_VAR_X,payment_method=x",
                          "secret_env=PAYORCH_TEST_STRIPE_KEY",
                          "secret_env=PAYORCH_TEST_STRIPE_KEY,payment_method=x,base_url=ftp://h",
                          "secret_env=PAYORCH_TEST_STRIPE_KEY,payment_method=x,timeout_ms=0",
                          "secret_env=PAYORCH_TEST_STRIPE_KEY,payment_method=x,color=red"}) {
    auto r = ParseStripeGatewaySpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().find(kSecret), std::string::npos);
  }
}

TEST(GatewayRegistry, BuildsAStripeGatewayFromItsKind) {
  ::setenv("PAYORCH_TEST_STRIPE_KEY", kSecret, 1);
  GatewayRegistry registry;
  ASSERT_TRUE(registry
                  .ConfigureAll("stripe=stripe:secret_env=PAYORCH_TEST_STRIPE_KEY,payment_method="
                                "pm_card_visa,base_url=http://127.0.0.1:1;*=mock")
                  .ok());
  EXPECT_NE(dynamic_cast<StripeGateway*>(registry.Find("stripe")), nullptr);
  Status bad = registry.Configure("other", "stripe:payment_method=pm_card_visa");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("secret_env"), std::string::npos);
}

GatewayRequest Request(OperationKind kind, const std::string& key, int64_t amount = 1000,
                       const std::string& target = "") {
  GatewayRequest r;
  r.kind = kind;
  r.idempotency_key = key;
  r.processor_id = "stripe";
  r.method = types::PAYMENT_METHOD_CARD;
  r.amount_minor = amount;
  r.currency = "EUR";
  r.target_reference = target;
  r.payment_id = "pay_1";
  r.step_index = 2;
  return r;
}

std::unique_ptr<StripeGateway> Connect(const std::string& url, uint32_t timeout_ms = 2000) {
  StripeGatewayOptions o;
  o.processor_id = "stripe";
  o.base_url = url;
  o.secret_key = kSecret;
  o.payment_method = "pm_card_visa";
  o.timeout_ms = timeout_ms;
  return std::move(StripeGateway::Create(std::move(o)).value());
}

std::string Pi(const std::string& id, const std::string& status, const std::string& extra = "") {
  return R"({"id":")" + id + R"(","object":"payment_intent","status":")" + status +
         R"(","amount":1000,"amount_capturable":1000,"amount_received":0,"metadata":{})" + extra +
         "}";
}

TEST(StripeGateway, SendsThePaymentIntentsWireFormat) {
  FakeStripe fake([](const http::Request& r) {
    if (r.path == "/v1/refunds") {
      return JsonAnswer(200,
                        R"({"id":"re_1","object":"refund","status":"succeeded","amount":300})");
    }
    return JsonAnswer(200, Pi("pi_1", "requires_capture"));
  });
  auto g = Connect(fake.url());
  EXPECT_EQ(g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s2:a1")).outcome,
            cmd::GATEWAY_OUTCOME_SUCCEEDED);
  g->Execute(Request(ev::OPERATION_KIND_SALE, "pay_1:s3:a1"));
  g->Execute(Request(ev::OPERATION_KIND_CAPTURE, "pay_1:c1", 600, "pi_1"));
  g->Execute(Request(ev::OPERATION_KIND_VOID, "pay_1:v1", 1000, "pi_1"));
  g->Execute(Request(ev::OPERATION_KIND_REFUND, "pay_1:r1", 300, "pi_1"));

  const std::vector<http::Request> reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 5u);
  const std::string meta = "metadata[payorch_key]=";
  const std::string charge_tail = "&payment_method=pm_card_visa&payment_method_types[0]=card";
  EXPECT_EQ(reqs[0].path, "/v1/payment_intents");
  EXPECT_EQ(reqs[0].body, "amount=1000&currency=eur&confirm=true&capture_method=manual" +
                              charge_tail + "&" + meta +
                              "pay_1%3As2%3Aa1&metadata[payment_id]=pay_1&metadata[step_index]=2");
  EXPECT_EQ(reqs[1].body, "amount=1000&currency=eur&confirm=true&capture_method=automatic" +
                              charge_tail + "&" + meta +
                              "pay_1%3As3%3Aa1&metadata[payment_id]=pay_1&metadata[step_index]=2");
  EXPECT_EQ(reqs[2].path, "/v1/payment_intents/pi_1/capture");
  EXPECT_EQ(reqs[2].body, "amount_to_capture=600");
  EXPECT_EQ(reqs[3].path, "/v1/payment_intents/pi_1/cancel");
  EXPECT_EQ(reqs[3].body, "");
  EXPECT_EQ(reqs[4].path, "/v1/refunds");
  EXPECT_EQ(reqs[4].body,
            "payment_intent=pi_1&amount=300&" + meta + "pay_1%3Ar1&metadata[payment_id]=pay_1");
  const char* keys[] = {"pay_1:s2:a1", "pay_1:s3:a1", "pay_1:c1", "pay_1:v1", "pay_1:r1"};
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(reqs[i].method, "POST");
    EXPECT_EQ(reqs[i].Header("Idempotency-Key"), keys[i]);
    EXPECT_EQ(reqs[i].Header("Stripe-Version"), std::string(kStripeApiVersion));
    EXPECT_EQ(reqs[i].Header("Authorization"), std::string("Bearer ") + kSecret);
    EXPECT_EQ(reqs[i].Header("Content-Type"), "application/x-www-form-urlencoded");
  }
}

TEST(StripeGateway, RefusesWhatStripeCannotDoWithoutSendingAnything) {
  FakeStripe fake([](const http::Request&) { return JsonAnswer(200, Pi("pi_1", "succeeded")); });
  auto g = Connect(fake.url());
  GatewayRequest bank = Request(ev::OPERATION_KIND_SALE, "k1");
  bank.method = types::PAYMENT_METHOD_BANK_TRANSFER;
  for (const GatewayRequest& r : {bank, Request(ev::OPERATION_KIND_CAPTURE, "k2", 100, "")}) {
    const GatewayAnswer a = g->Execute(r);
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
    EXPECT_EQ(a.error_code, types::ERROR_CODE_UNKNOWN);
  }
  EXPECT_TRUE(fake.requests().empty());
}

TEST(StripeGateway, ACardErrorIsADeclineAndRetrieveReadsItsPaymentIntent) {
  FakeStripe fake([](const http::Request& r) {
    if (r.method == "GET") {
      return JsonAnswer(200, Pi("pi_7", "requires_payment_method",
                                R"(,"last_payment_error":{"type":"card_error",
                                   "code":"card_declined","decline_code":"lost_card"})"));
    }
    return JsonAnswer(402, R"({"error":{"type":"card_error","code":"card_declined",
        "decline_code":"lost_card","payment_intent":{"id":"pi_7","status":"requires_payment_method"}}})");
  });
  auto g = Connect(fake.url());
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "k1"));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_HARD_DECLINE);
  EXPECT_EQ(a.processor_reference, "pi_7");
  const GatewayAnswer r = g->Retrieve("k1");
  EXPECT_EQ(r.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(r.error_code, types::ERROR_CODE_HARD_DECLINE);
  EXPECT_EQ(fake.requests().back().path, "/v1/payment_intents/pi_7");
}

TEST(StripeGateway, ProcessingIsUnknownAndReconciledByTheIntentsId) {
  FakeStripe fake([](const http::Request&) { return JsonAnswer(200, Pi("pi_5", "processing")); });
  auto g = Connect(fake.url());
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_SALE, "k1"));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(a.processor_reference, "pi_5");
  EXPECT_EQ(g->Retrieve("k1").outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);  // still processing
  fake.SetAnswer([](const http::Request&) {
    return JsonAnswer(200, Pi("pi_5", "succeeded", R"(,"amount_received":1000)"));
  });
  const GatewayAnswer r = g->Retrieve("k1");
  EXPECT_EQ(r.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.amount_processed_minor, 1000);
  EXPECT_EQ(r.processor_reference, "pi_5");
  const auto reqs = fake.requests();
  EXPECT_EQ(reqs.back().method, "GET");
  EXPECT_EQ(reqs.back().path, "/v1/payment_intents/pi_5");
  EXPECT_EQ(reqs.back().Header("Stripe-Version"), std::string(kStripeApiVersion));
}

TEST(StripeGateway, RequiresActionIsDeclinedSincePayorchHasNoAuthenticationFlow) {
  FakeStripe fake(
      [](const http::Request&) { return JsonAnswer(200, Pi("pi_3", "requires_action")); });
  const GatewayAnswer a = Connect(fake.url())->Execute(Request(ev::OPERATION_KIND_SALE, "k1"));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_DECLINED);
}

// 429/5xx leave the key open; the dispatcher then retrieves, which seals the key with an
// unconfirmed PaymentIntent: NOT_FOUND, so the retryable failure stands.
TEST(StripeGateway, RetrieveSealsAKeyThatAnAvailabilityFailureLeftOpen) {
  for (int status : {429, 500, 503}) {
    FakeStripe fake([status](const http::Request&) {
      return JsonAnswer(status, R"({"error":{"type":"api_error"}})");
    });
    auto g = Connect(fake.url());
    const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1"));
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
    EXPECT_EQ(a.error_code, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
    EXPECT_EQ(g->Retrieve("pay_1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_UNKNOWN)
        << "a seal refused with " << status << " proves nothing";

    fake.SetAnswer([](const http::Request& r) {
      if (r.path == "/v1/payment_intents") {
        return JsonAnswer(200, R"({"id":"pi_seal","object":"payment_intent",
            "status":"requires_confirmation","metadata":{"payorch_seal":"1"}})");
      }
      return JsonAnswer(200, R"({"id":"pi_seal","status":"canceled"})");
    });
    EXPECT_EQ(g->Retrieve("pay_1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND) << status;
    const auto reqs = fake.requests();
    ASSERT_GE(reqs.size(), 2u);
    const http::Request& seal = reqs[reqs.size() - 2];
    EXPECT_EQ(seal.path, "/v1/payment_intents");
    EXPECT_EQ(seal.Header("Idempotency-Key"), "pay_1:s0:a1");
    EXPECT_NE(seal.body.find("confirm=false"), std::string::npos);
    EXPECT_NE(seal.body.find("metadata[payorch_seal]=1"), std::string::npos);
    EXPECT_EQ(reqs.back().path, "/v1/payment_intents/pi_seal/cancel");
    EXPECT_EQ(reqs.back().Header("Idempotency-Key"), "pay_1:s0:a1/seal-cancel");
  }
}

// The seal is refused because another request holds the key: the search finds its intent.
TEST(StripeGateway, RetrieveFindsTheChargeThatHoldsTheKey) {
  FakeStripe fake([](const http::Request&) { return JsonAnswer(503, "{}"); });
  auto g = Connect(fake.url());
  g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1"));
  fake.SetAnswer([](const http::Request& r) {
    if (r.method == "POST") {
      return JsonAnswer(
          400,
          R"({"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}})");
    }
    return JsonAnswer(
        200,
        R"({"object":"search_result","data":[)" +
            Pi("pi_other", "succeeded", R"(,"metadata":{"payorch_key":"someone_else"})") + "," +
            Pi("pi_4", "requires_capture", R"(,"metadata":{"payorch_key":"pay_1:s0:a1"})") + "]}");
  });
  const GatewayAnswer r = g->Retrieve("pay_1:s0:a1");
  EXPECT_EQ(r.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.processor_reference, "pi_4");
  const http::Request search = fake.requests().back();
  EXPECT_EQ(search.path, "/v1/payment_intents/search");
  EXPECT_EQ(search.Query("query"), "metadata['payorch_key']:'pay_1:s0:a1'");
}

TEST(StripeGateway, RetrieveOfAKeyItNeverSentSearchesAndCannotProveAbsence) {
  FakeStripe fake([](const http::Request&) {
    return JsonAnswer(200, R"({"object":"search_result","data":[]})");
  });
  auto g = Connect(fake.url());
  EXPECT_EQ(g->Retrieve("pay_9:s0:a1").outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  ASSERT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(fake.requests()[0].path, "/v1/payment_intents/search");
}

TEST(StripeGateway, RetrieveOfACaptureSendsTheSameRequestUnderTheSameKey) {
  FakeStripe fake([](const http::Request&) { return JsonAnswer(500, "{}"); });
  auto g = Connect(fake.url());
  g->Execute(Request(ev::OPERATION_KIND_CAPTURE, "pay_1:c1", 600, "pi_1"));
  fake.SetAnswer([](const http::Request&) {
    return JsonAnswer(200, Pi("pi_1", "succeeded", R"(,"amount_received":600)"));
  });
  const GatewayAnswer r = g->Retrieve("pay_1:c1");
  EXPECT_EQ(r.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.amount_processed_minor, 600);
  const auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].path, reqs[0].path);
  EXPECT_EQ(reqs[1].body, reqs[0].body);
  EXPECT_EQ(reqs[1].Header("Idempotency-Key"), "pay_1:c1");
}

TEST(StripeGateway, APendingRefundIsReconciledByTheRefundsId) {
  FakeStripe fake([](const http::Request&) {
    return JsonAnswer(200, R"({"id":"re_2","object":"refund","status":"pending","amount":300})");
  });
  auto g = Connect(fake.url());
  EXPECT_EQ(g->Execute(Request(ev::OPERATION_KIND_REFUND, "pay_1:r1", 300, "pi_1")).outcome,
            cmd::GATEWAY_OUTCOME_UNKNOWN);
  fake.SetAnswer([](const http::Request&) {
    return JsonAnswer(200, R"({"id":"re_2","object":"refund","status":"succeeded","amount":300})");
  });
  const GatewayAnswer r = g->Retrieve("pay_1:r1");
  EXPECT_EQ(r.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.amount_processed_minor, 300);
  EXPECT_EQ(fake.requests().back().path, "/v1/refunds/re_2");
  EXPECT_EQ(fake.requests().back().method, "GET");
}

// A fake that keeps Stripe's documented idempotency: the first request that executes under
// a key is kept and replayed to the same request; the key with other parameters is a 400
// idempotency_error. Its first `unavailable` charge requests answer 503 and execute nothing.
class IdempotentFakeStripe {
 public:
  explicit IdempotentFakeStripe(int unavailable)
      : unavailable_(unavailable), fake_([this](const http::Request& r) { return Handle(r); }) {}
  std::string url() const { return fake_.url(); }
  int confirmed_charges() const {
    std::lock_guard lock(mu_);
    return confirmed_;
  }

 private:
  struct Kept {
    std::string path, body;
    http::Response answer;
  };
  http::Response Handle(const http::Request& r) {
    std::lock_guard lock(mu_);
    const std::string key = r.Header("Idempotency-Key").value_or("");
    if (auto it = kept_.find(key); it != kept_.end()) {
      if (it->second.path == r.path && it->second.body == r.body) return it->second.answer;
      return JsonAnswer(400, R"({"error":{"type":"idempotency_error"}})");
    }
    const bool charge = r.path == "/v1/payment_intents";
    const bool confirm = r.body.find("confirm=true") != std::string::npos;
    if (charge && confirm && unavailable_ > 0) {
      --unavailable_;
      return JsonAnswer(503, R"({"error":{"type":"api_error"}})");
    }
    http::Response answer;
    if (charge) {
      const bool seal = r.body.find("metadata[payorch_seal]=1") != std::string::npos;
      if (confirm) ++confirmed_;
      answer = JsonAnswer(200, Pi("pi_" + std::to_string(kept_.size()),
                                  confirm ? "requires_capture" : "requires_confirmation",
                                  seal ? R"(,"metadata":{"payorch_seal":"1"})" : ""));
    } else {
      answer = JsonAnswer(200, Pi("pi_x", "canceled"));
    }
    kept_[key] = {r.path, r.body, answer};
    return answer;
  }

  mutable std::mutex mu_;
  int unavailable_;
  int confirmed_ = 0;
  std::map<std::string, Kept> kept_;
  FakeStripe fake_;
};

// The dispatcher seals a key a 503 left open (docs/gateway-api.md): with Stripe the seal is
// an unconfirmed intent kept under the key, so the same event dispatched again (a restart,
// a rebalance) is refused by Stripe and charges nothing; the failure stays retryable.
TEST(StripeGateway, WithTheDispatcherAFailedChargeStaysUnchargedWhenDispatchedAgain) {
  IdempotentFakeStripe stripe(/*unavailable=*/1);
  GatewayRegistry registry;
  ASSERT_TRUE(registry.Register("stripe", std::shared_ptr<Gateway>(Connect(stripe.url()))).ok());
  Dispatcher dispatcher(registry);
  ev::EventEnvelope e = testing::Envelope("pay_1");
  *e.mutable_step_started()->mutable_op() =
      testing::Op(ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1", "stripe");
  for (int i = 0; i < 2; ++i) {
    const auto result = dispatcher.Handle(e);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED) << i;
    EXPECT_EQ(result->gateway_result().error_code(), types::ERROR_CODE_PROCESSOR_UNAVAILABLE) << i;
  }
  EXPECT_EQ(dispatcher.probe().seals.load(), 2u);
  EXPECT_EQ(stripe.confirmed_charges(), 0);
}

}  // namespace
}  // namespace payorch::connectors
