// The connector contract: one typed suite over every HTTP connector, each behind a fixture
// that serves it a processor on loopback:
//   - HttpGateway against payorch's gateway simulator (src/gatewaysim, spec "mock");
//   - StripeGateway against stripe-mock v0.203.0 (installed by scripts/deps.sh into
//     .cache/go/bin), which checks every request against Stripe's OpenAPI description
//     (and, with -strict-version-check, the Stripe-Version header) and answers fixtures.
// What the suite asserts is what both can show: every request of a payment's life is
// accepted as valid, every write carries the operation key as its Idempotency-Key, a
// retrieve after an answer agrees with it, an unreachable processor is a network failure,
// and silence past the timeout is UNKNOWN. The Stripe-only checks against stripe-mock
// follow the suite; error mapping that stripe-mock cannot produce is in
// stripe_gateway_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <set>

#include "connectors/http_gateway.h"
#include "connectors/registry.h"
#include "connectors/stripe_gateway.h"
#include "gatewaysim/simulator.h"
#include "unit/connectors/stripe_support.h"

namespace payorch::connectors {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;
using testing::CallLog;

// --- fixtures: a processor on loopback and a gateway speaking to it ---------------------

class SimulatorConnector {
 public:
  static constexpr const char* kName = "gateway-sim";
  bool Start(std::string* /*why*/) {
    gatewaysim::GatewaySimulatorOptions o;
    o.engine = ParseGatewaySpec("mock").value();
    o.engine.processor_id = "sim";
    sim_ = std::move(gatewaysim::GatewaySimulator::Open(std::move(o)).value());
    sim_->RegisterRoutes(server_);
    port_ = *server_.Start("127.0.0.1:0");
    return true;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::unique_ptr<Gateway> Connect(const std::string& url, CallLog& log,
                                   uint32_t timeout_ms = 2000) const {
    HttpGatewayOptions o;
    o.processor_id = "sim";
    o.base_url = url;
    o.timeout_ms = timeout_ms;
    o.on_result = log.Observer();
    return std::move(HttpGateway::Create(std::move(o)).value());
  }
  std::string Diagnostics() const { return ""; }

 private:
  std::unique_ptr<gatewaysim::GatewaySimulator> sim_;
  http::Server server_{http::ServerOptions{.threads = 4}};
  int port_ = 0;
};

class StripeMockConnector {
 public:
  static constexpr const char* kName = "stripe-mock";
  bool Start(std::string* why) {
    return mock_.Start(::testing::TempDir() + "/stripe-mock-contract.log", why);
  }
  std::string url() const { return mock_.url(); }
  std::unique_ptr<Gateway> Connect(const std::string& url, CallLog& log,
                                   uint32_t timeout_ms = 2000) const {
    StripeGatewayOptions o;
    o.processor_id = "stripe";
    o.base_url = url;
    o.secret_key = "sk_test_123";  // stripe-mock accepts any test-mode key
    o.payment_method = "pm_card_visa";
    o.timeout_ms = timeout_ms;
    o.on_result = log.Observer();
    return std::move(StripeGateway::Create(std::move(o)).value());
  }
  std::string Diagnostics() const { return mock_.Log(); }

 private:
  testing::StripeMock mock_;
};

GatewayRequest Request(OperationKind kind, const std::string& key, int64_t amount = 1000,
                       const std::string& target = "") {
  GatewayRequest r;
  r.kind = kind;
  r.idempotency_key = key;
  r.method = types::PAYMENT_METHOD_CARD;
  r.amount_minor = amount;
  r.currency = "USD";
  r.target_reference = target;
  r.payment_id = "pay_contract";
  r.timeout_ms = 2000;
  return r;
}

std::string Describe(const CallLog::Entry& e) {
  return (e.call.post ? "POST " : "GET ") + e.call.path + " -> " + std::to_string(e.result.status) +
         " " + e.result.body.substr(0, 400);
}

// --- the suite --------------------------------------------------------------------------

template <typename F>
class ConnectorContract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = std::make_unique<F>();
    started_ = fixture_->Start(&why_);
  }
  static void TearDownTestSuite() { fixture_.reset(); }
  void SetUp() override {
    if (!started_ && why_.find("not installed") != std::string::npos) GTEST_SKIP() << why_;
    ASSERT_TRUE(started_) << why_;
  }
  // Every call got an HTTP 2xx: the server took each request as valid.
  void ExpectAllAccepted(const CallLog& log) const {
    const auto entries = log.entries();
    EXPECT_FALSE(entries.empty());
    for (const auto& e : entries) {
      EXPECT_EQ(e.result.transport, Transport::kAnswered) << Describe(e);
      EXPECT_TRUE(e.result.status == 200 || e.result.status == 201)
          << F::kName << " refused a request: " << Describe(e) << "\n"
          << fixture_->Diagnostics().substr(0, 2000);
    }
  }
  std::string Key(const std::string& what) const {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ":" +
           what;
  }

  static inline std::unique_ptr<F> fixture_;
  static inline bool started_ = false;
  static inline std::string why_;
};

using Connectors = ::testing::Types<SimulatorConnector, StripeMockConnector>;
class ConnectorNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName[0] == 'g' ? "GatewaySim" : "StripeMock";
  }
};
TYPED_TEST_SUITE(ConnectorContract, Connectors, ConnectorNames);

TYPED_TEST(ConnectorContract, EveryOperationOfAPaymentsLifeIsAcceptedAsAValidRequest) {
  CallLog log;
  auto g = this->fixture_->Connect(this->fixture_->url(), log);
  const GatewayAnswer auth = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, this->Key("a1")));
  ASSERT_FALSE(auth.processor_reference.empty());
  g->Execute(Request(ev::OPERATION_KIND_CAPTURE, this->Key("c1"), 600, auth.processor_reference));
  g->Execute(Request(ev::OPERATION_KIND_REFUND, this->Key("r1"), 300, auth.processor_reference));
  const GatewayAnswer other = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, this->Key("a2")));
  ASSERT_FALSE(other.processor_reference.empty());
  g->Execute(Request(ev::OPERATION_KIND_VOID, this->Key("v1"), 1000, other.processor_reference));
  const GatewayAnswer sale = g->Execute(Request(ev::OPERATION_KIND_SALE, this->Key("s1")));
  EXPECT_FALSE(sale.processor_reference.empty());
  g->Retrieve(this->Key("a1"));
  g->Retrieve(this->Key("r1"));
  EXPECT_GE(log.entries().size(), 8u);
  this->ExpectAllAccepted(log);
}

TYPED_TEST(ConnectorContract, EveryWriteCarriesTheOperationKeyAsItsIdempotencyKey) {
  CallLog log;
  auto g = this->fixture_->Connect(this->fixture_->url(), log);
  const GatewayAnswer auth = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, this->Key("a1")));
  const std::string ref = auth.processor_reference;
  const std::vector<GatewayRequest> ops = {
      Request(ev::OPERATION_KIND_CAPTURE, this->Key("c1"), 500, ref),
      Request(ev::OPERATION_KIND_REFUND, this->Key("r1"), 200, ref),
      Request(ev::OPERATION_KIND_VOID, this->Key("v1"), 1000, ref),
      Request(ev::OPERATION_KIND_SALE, this->Key("s1"))};
  for (const GatewayRequest& r : ops) g->Execute(r);
  const auto entries = log.entries();
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(testing::HeaderOf(entries[0].call, "Idempotency-Key"), this->Key("a1"));
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_TRUE(entries[i + 1].call.post);
    EXPECT_EQ(testing::HeaderOf(entries[i + 1].call, "Idempotency-Key"), ops[i].idempotency_key)
        << Describe(entries[i + 1]);
  }
  this->ExpectAllAccepted(log);
}

TYPED_TEST(ConnectorContract, ARetrieveAfterAnAnswerIsDefiniteAndAgreesWithIt) {
  CallLog log;
  auto g = this->fixture_->Connect(this->fixture_->url(), log);
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, this->Key("a1")));
  const GatewayAnswer r = g->Retrieve(this->Key("a1"));
  EXPECT_TRUE(r.outcome == cmd::GATEWAY_OUTCOME_SUCCEEDED ||
              r.outcome == cmd::GATEWAY_OUTCOME_FAILED)
      << cmd::GatewayOutcome_Name(r.outcome);
  EXPECT_EQ(r.outcome, a.outcome);
  EXPECT_EQ(r.error_code, a.error_code);
  EXPECT_EQ(r.processor_reference, a.processor_reference);
  this->ExpectAllAccepted(log);
}

TYPED_TEST(ConnectorContract, AnUnreachableProcessorIsANetworkFailureAndRetrieveCannotTell) {
  CallLog log;
  auto g = this->fixture_->Connect(testing::ClosedPortUrl(), log);
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_SALE, this->Key("s1")));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_NETWORK_FAILURE);
  EXPECT_EQ(g->Retrieve(this->Key("s1")).outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
}

TYPED_TEST(ConnectorContract, NoAnswerWithinTheTimeoutIsUnknown) {
  testing::BlackHole hole;
  CallLog log;
  auto g = this->fixture_->Connect(hole.url(), log, /*timeout_ms=*/150);
  for (OperationKind kind : {ev::OPERATION_KIND_AUTHORIZE, ev::OPERATION_KIND_REFUND}) {
    const GatewayAnswer a = g->Execute(Request(kind, this->Key("t1"), 1000, "ref_1"));
    EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
    EXPECT_EQ(a.error_code, types::ERROR_CODE_TIMEOUT);
  }
}

// --- Stripe only, against stripe-mock ---------------------------------------------------

class StripeMockTest : public ConnectorContract<StripeMockConnector> {};

// stripe-mock answers fixtures (a PaymentIntent in requires_payment_method whose
// last_payment_error is not a card error; a succeeded Refund reflecting the amount): the
// connector reads them as the table in docs/gateway-api.md says.
TEST_F(StripeMockTest, ItsFixtureAnswersAreMappedAsTheTableSays) {
  CallLog log;
  auto g = fixture_->Connect(fixture_->url(), log);
  const GatewayAnswer auth = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "fixture:a1"));
  EXPECT_EQ(auth.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(auth.error_code, types::ERROR_CODE_UNKNOWN);
  EXPECT_EQ(auth.processor_reference.rfind("pi_", 0), 0u) << auth.processor_reference;
  const GatewayAnswer capture =
      g->Execute(Request(ev::OPERATION_KIND_CAPTURE, "fixture:c1", 600, "pi_123"));
  EXPECT_EQ(capture.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);  // not succeeded: reconcile
  EXPECT_EQ(capture.processor_reference, "pi_123");
  const GatewayAnswer refund =
      g->Execute(Request(ev::OPERATION_KIND_REFUND, "fixture:r1", 300, "pi_123"));
  EXPECT_EQ(refund.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(refund.amount_processed_minor, 300);
  EXPECT_EQ(refund.processor_reference.rfind("re_", 0), 0u) << refund.processor_reference;
  // A key this gateway never sent: the search finds no intent marked with it.
  EXPECT_EQ(g->Retrieve("fixture:never").outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  const auto entries = log.entries();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[3].call.path.rfind("/v1/payment_intents/search?query=", 0), 0u);
  ExpectAllAccepted(log);
}

TEST_F(StripeMockTest, AWrongStripeVersionIsRefused) {
  CallLog log;
  StripeGatewayOptions o;
  o.base_url = fixture_->url();
  o.secret_key = "sk_test_123";
  o.payment_method = "pm_card_visa";
  o.stripe_version = "2020-08-27";
  o.on_result = log.Observer();
  auto g = std::move(StripeGateway::Create(std::move(o)).value());
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_SALE, "version:s1"));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_UNKNOWN);
  ASSERT_EQ(log.entries().size(), 1u);
  EXPECT_EQ(log.entries()[0].result.status, 400);
}

// The requests of the seal (an unconfirmed, marked PaymentIntent under the open key, then
// its cancel) and of the search are valid Stripe requests too: a fake answers the charge
// 503 and passes everything after it on to stripe-mock.
TEST_F(StripeMockTest, TheSealAndSearchRequestsAreValid) {
  HttpClient upstream(HttpClientOptions{.base_url = fixture_->url()});
  std::atomic<int> posts{0};
  testing::FakeStripe fake([&](const http::Request& r) {
    if (r.method == "POST" && posts.fetch_add(1) == 0) return testing::JsonAnswer(503, "{}");
    HttpCall call;
    call.post = r.method == "POST";
    call.path = r.path;
    std::string query;
    for (const auto& [name, value] : r.query) {
      query += (query.empty() ? "?" : "&") + PercentEncode(name) + "=" + PercentEncode(value);
    }
    call.path += query;
    call.body = r.body;
    call.content_type = r.Header("Content-Type").value_or("");
    for (const char* h : {"Authorization", "Stripe-Version", "Idempotency-Key"}) {
      if (auto v = r.Header(h)) call.headers.emplace_back(h, *v);
    }
    const HttpResult answer = upstream.Perform(call);
    return testing::JsonAnswer(answer.status, answer.body);
  });
  CallLog log;
  auto g = fixture_->Connect(fake.url(), log);
  const GatewayAnswer a = g->Execute(Request(ev::OPERATION_KIND_AUTHORIZE, "seal:a1"));
  EXPECT_EQ(a.error_code, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  g->Retrieve("seal:a1");       // the seal (stripe-mock answers a fixture, not the seal)
  g->Retrieve("seal:unknown");  // the search
  const auto entries = log.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_NE(entries[1].call.body.find("confirm=false"), std::string::npos);
  EXPECT_NE(entries[1].call.body.find("metadata[payorch_seal]=1"), std::string::npos);
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].result.status, 200) << Describe(entries[i]);
  }
  // stripe-mock keeps no metadata, so the cancel of a recognised seal is checked alone.
  const HttpResult cancel =
      upstream.Perform({.post = true,
                        .path = "/v1/payment_intents/pi_123/cancel",
                        .content_type = "application/x-www-form-urlencoded",
                        .headers = {{"Authorization", "Bearer sk_test_123"},
                                    {"Stripe-Version", std::string(kStripeApiVersion)},
                                    {"Idempotency-Key", "seal:a1/seal-cancel"}}});
  EXPECT_EQ(cancel.status, 200) << cancel.body;
}

}  // namespace
}  // namespace payorch::connectors
