// The HTTP adapter (libcurl) against the gateway simulator on loopback: the API of
// docs/gateway-api.md, idempotency, timeouts and the error mapping (anti-corruption layer).
#include "connectors/http_gateway.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "connectors/dispatcher.h"
#include "connectors/registry.h"
#include "gatewaysim/simulator.h"

namespace payorch::connectors {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

TEST(MapHttpAnswer, MapsStatusesAndTransportToOutcomes) {
  struct Case {
    Transport transport;
    int status;
    const char* body;
    bool retrieve;
    cmd::GatewayOutcome outcome;
    types::ErrorCode code;
  };
  const Case cases[] = {
      {Transport::kAnswered, 200, R"({"id":"ch_1","status":"succeeded","amount":7})", false,
       cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED},
      {Transport::kAnswered, 200, "not json", false, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_TIMEOUT},
      {Transport::kAnswered, 402, R"({"error":{"code":"card_declined"}})", false,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED},
      {Transport::kAnswered, 402, R"({"error":{"code":"fraudulent"}})", false,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_HARD_DECLINE},
      {Transport::kAnswered, 402, R"({"error":{"code":"incorrect_number"}})", false,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_INVALID_CARD},
      {Transport::kAnswered, 409, R"({"error":{"code":"idempotency_key_reused"}})", false,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_UNKNOWN},
      // A sealed key: nothing happened and nothing will; retryable like the seal's cause.
      {Transport::kAnswered, 409, R"({"error":{"code":"idempotency_key_sealed"}})", false,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_PROCESSOR_UNAVAILABLE},
      {Transport::kAnswered, 401, "{}", false, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_UNKNOWN},
      {Transport::kAnswered, 429, "{}", false, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE},
      {Transport::kAnswered, 503, "{}", false, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE},
      {Transport::kAnswered, 504, "{}", false, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_TIMEOUT},
      {Transport::kAnswered, 302, "", false, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_TIMEOUT},
      {Transport::kNotSent, 0, "", false, cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_NETWORK_FAILURE},
      {Transport::kTimedOut, 0, "", false, cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT},
      {Transport::kBrokenAfterSend, 0, "", false, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_TIMEOUT},
      {Transport::kAnswered, 404, "{}", true, cmd::GATEWAY_OUTCOME_NOT_FOUND,
       types::ERROR_CODE_UNSPECIFIED},
      {Transport::kAnswered, 200, R"({"status":"failed","error":{"code":"card_declined"}})", true,
       cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED},
      {Transport::kAnswered, 503, "{}", true, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_TIMEOUT},
      {Transport::kNotSent, 0, "", true, cmd::GATEWAY_OUTCOME_UNKNOWN,
       types::ERROR_CODE_NETWORK_FAILURE},
  };
  for (const Case& c : cases) {
    const GatewayAnswer a = MapHttpAnswer(c.transport, c.status, c.body, c.retrieve);
    EXPECT_EQ(a.outcome, c.outcome) << c.status << " " << c.body;
    EXPECT_EQ(a.error_code, c.code) << c.status << " " << c.body;
  }
}

TEST(ParseHttpGatewaySpec, ReadsKeysAndRefusesBadOnesWithoutEchoingSecrets) {
  ::setenv("PAYORCH_TEST_TOKEN", "sk_test_secret", 1);
  auto ok =
      ParseHttpGatewaySpec("http://127.0.0.1:8099/?timeout_ms=800&token_env=PAYORCH_TEST_TOKEN");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok.value().base_url, "http://127.0.0.1:8099");
  EXPECT_EQ(ok.value().timeout_ms, 800u);
  EXPECT_EQ(ok.value().bearer_token, "sk_test_secret");
  for (const char* bad :
       {"ftp://x", "http://h?timeout_ms=0", "http://h?timeout_ms=abc", "http://h?color=red",
        "http://h?token_env=PAYORCH_UNSET_VAR_X", "http://h?cert=/a.pem"}) {
    auto r = ParseHttpGatewaySpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().find("sk_test"), std::string::npos);
  }
}

// A simulator served on a free loopback port.
class SimulatorFixture {
 public:
  explicit SimulatorFixture(const std::string& spec, int64_t hang_ms = 0,
                            const std::string& token = "") {
    gatewaysim::GatewaySimulatorOptions o;
    o.engine = ParseGatewaySpec(spec).value();
    o.engine.processor_id = "stripe";
    o.hang_ms = hang_ms;
    o.token = token;
    sim = std::move(gatewaysim::GatewaySimulator::Open(std::move(o)).value());
    sim->RegisterRoutes(server);
    port = *server.Start("127.0.0.1:0");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  std::unique_ptr<gatewaysim::GatewaySimulator> sim;
  http::Server server{http::ServerOptions{.threads = 8}};
  int port = 0;
};

GatewayRequest Sale(const std::string& key, int64_t amount = 1000) {
  GatewayRequest r;
  r.kind = ev::OPERATION_KIND_SALE;
  r.idempotency_key = key;
  r.processor_id = "stripe";
  r.method = types::PAYMENT_METHOD_CARD;
  r.amount_minor = amount;
  r.currency = "USD";
  r.payment_id = key.substr(0, key.find(':'));
  return r;
}

std::unique_ptr<HttpGateway> Client(const std::string& url, const std::string& query = "") {
  auto g = HttpGateway::FromSpec("stripe", url + query);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::move(g.value());
}

TEST(HttpGateway, SaleSucceedsAndARepeatUnderTheKeyReturnsTheFirstAnswer) {
  SimulatorFixture f("mock");
  auto g = Client(f.url());
  const GatewayAnswer first = g->Execute(Sale("p1:s0:a1"));
  ASSERT_EQ(first.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(first.amount_processed_minor, 1000);
  EXPECT_FALSE(first.processor_reference.empty());
  const GatewayAnswer again = g->Execute(Sale("p1:s0:a1"));
  EXPECT_EQ(again.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(again.processor_reference, first.processor_reference);
  EXPECT_EQ(f.sim->Charges().size(), 1u);
  EXPECT_EQ(g->Retrieve("p1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(g->Retrieve("p9:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND);
}

TEST(HttpGateway, SameKeyWithADifferentBodyIsRefusedAndMovesNothing) {
  SimulatorFixture f("mock");
  auto g = Client(f.url());
  ASSERT_EQ(g->Execute(Sale("p1:s0:a1", 1000)).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  const GatewayAnswer conflict = g->Execute(Sale("p1:s0:a1", 2000));
  EXPECT_EQ(conflict.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(conflict.error_code, types::ERROR_CODE_UNKNOWN);
  ASSERT_EQ(f.sim->Charges().size(), 1u);
  EXPECT_EQ(f.sim->Charges()[0].authorized, 1000);
}

TEST(HttpGateway, ChargedButAnswerLostIsUnknownAndNeverChargesTwice) {
  // Every answer is lost after charging and held for 300 ms; the client gives up at 100.
  SimulatorFixture f("flaky:seed=3,lost=1", /*hang_ms=*/300);
  auto g = Client(f.url(), "?timeout_ms=100");
  for (int retry = 0; retry < 3; ++retry) {
    const GatewayAnswer a = g->Execute(Sale("p1:s0:a1"));
    EXPECT_TRUE(a.outcome == cmd::GATEWAY_OUTCOME_UNKNOWN ||
                a.outcome == cmd::GATEWAY_OUTCOME_SUCCEEDED)
        << a.outcome;
    if (retry == 0) {
      EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
      EXPECT_EQ(a.error_code, types::ERROR_CODE_TIMEOUT);
    }
  }
  const GatewayAnswer found = g->Retrieve("p1:s0:a1");
  EXPECT_EQ(found.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(found.amount_processed_minor, 1000);
  EXPECT_EQ(f.sim->Charges().size(), 1u);
}

// A held answer (hang_ms) waits on a timer, not on a worker: with one worker, five held
// answers do not keep the audit from being answered, and each still gets its 504 after
// hang_ms. (A worker sleeping through hang_ms would hold the audit 3 s per held answer.)
TEST(GatewaySim, HeldAnswersHoldNoWorker) {
  gatewaysim::GatewaySimulatorOptions o;
  o.engine = ParseGatewaySpec("flaky:seed=3,timeout=1").value();
  o.engine.processor_id = "stripe";
  o.hang_ms = 3000;
  auto sim = std::move(gatewaysim::GatewaySimulator::Open(std::move(o)).value());
  http::Server server(http::ServerOptions{.threads = 1});
  sim->RegisterRoutes(server);
  const int port = *server.Start("127.0.0.1:0");
  std::vector<std::thread> held;
  std::atomic<int> timeouts{0};
  for (int i = 0; i < 5; ++i) {
    held.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(10, 0);
      auto r = c.Post("/v1/payments", {{"Idempotency-Key", "k" + std::to_string(i)}},
                      R"({"amount":100,"currency":"USD"})", "application/json");
      if (r && r->status == 504) ++timeouts;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the five are held now
  httplib::Client audit("127.0.0.1", port);
  audit.set_read_timeout(2, 0);  // a liveness bound: one held worker would take 3 s
  auto r = audit.Get("/v1/audit");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (auto& t : held) t.join();
  EXPECT_EQ(timeouts.load(), 5);
}

// A write's Idempotency-Key: missing and too long are told apart (docs/gateway-api.md).
TEST(GatewaySim, AMissingAndATooLongIdempotencyKeyAreTwoErrors) {
  gatewaysim::GatewaySimulatorOptions o;
  o.engine = ParseGatewaySpec("mock").value();
  o.engine.processor_id = "stripe";
  auto sim = std::move(gatewaysim::GatewaySimulator::Open(std::move(o)).value());
  http::Server server(http::ServerOptions{.threads = 1});
  sim->RegisterRoutes(server);
  const int port = *server.Start("127.0.0.1:0");
  httplib::Client c("127.0.0.1", port);
  const std::string body = R"({"amount":100,"currency":"USD"})";
  auto missing = c.Post("/v1/payments", body, "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_NE(missing->body.find("idempotency_key_missing"), std::string::npos) << missing->body;
  auto too_long = c.Post("/v1/payments", {{"Idempotency-Key", std::string(256, 'k')}}, body,
                         "application/json");
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400);
  EXPECT_NE(too_long->body.find("idempotency_key_too_long"), std::string::npos) << too_long->body;
  auto ok = c.Post("/v1/payments", {{"Idempotency-Key", std::string(255, 'k')}}, body,
                   "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(HttpGateway, TimeoutNotChargedIsSealedByRetrieve) {
  SimulatorFixture f("flaky:seed=3,timeout=1");
  auto g = Client(f.url());
  EXPECT_EQ(g->Execute(Sale("p1:s0:a1")).outcome, cmd::GATEWAY_OUTCOME_UNKNOWN);
  EXPECT_EQ(g->Retrieve("p1:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND);
  const GatewayAnswer after = g->Execute(Sale("p1:s0:a1"));
  EXPECT_EQ(after.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(after.error_code, types::ERROR_CODE_PROCESSOR_UNAVAILABLE) << "the seal's meaning";
  EXPECT_TRUE(f.sim->Charges().empty());
}

// Issue 16: a connector sealed a key after a 503 and was SIGKILLed before publishing the
// answer. Its successor re-reads the StepStarted and calls again under the key: the answer
// must be the retryable failure the seal stands for (the plan retries under a new key),
// never a refusal that burns the step.
TEST(HttpGateway, ARepeatedCallUnderASealedKeyIsAnsweredAsTheRetryableFailure) {
  SimulatorFixture f("mock");
  auto g = Client(f.url());
  ASSERT_EQ(g->Retrieve("p2:s0:a1").outcome, cmd::GATEWAY_OUTCOME_NOT_FOUND);  // the seal
  GatewayRegistry registry;
  ASSERT_TRUE(registry.Register("stripe", std::shared_ptr<Gateway>(std::move(g))).ok());
  Dispatcher dispatcher(registry);
  ev::EventEnvelope started;
  started.set_payment_id("p2");
  ev::GatewayOperation* op = started.mutable_step_started()->mutable_op();
  op->set_kind(ev::OPERATION_KIND_SALE);
  op->set_idempotency_key("p2:s0:a1");
  op->set_processor_id("stripe");
  op->set_method(types::PAYMENT_METHOD_CARD);
  op->mutable_amount()->set_amount_minor(1000);
  op->mutable_amount()->set_currency("USD");
  const auto commands = dispatcher.HandleAll(started, /*repeat=*/true);
  ASSERT_FALSE(commands.empty());
  const cmd::RecordGatewayResult& r = commands.back().gateway_result();
  EXPECT_EQ(r.outcome(), cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(r.error_code(), types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  EXPECT_TRUE(f.sim->Charges().empty());
}

TEST(HttpGateway, DeclinesAndUnavailabilityMapToOurCodes) {
  struct Case {
    const char* spec;
    cmd::GatewayOutcome outcome;
    types::ErrorCode code;
  };
  const Case cases[] = {
      {"flaky:seed=1,decline=1", cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED},
      {"flaky:seed=1,hard_decline=1", cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_HARD_DECLINE},
      {"flaky:seed=1,invalid=1", cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_INVALID_CARD},
      {"flaky:seed=1,unavailable=1", cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE},
      {"flaky:seed=1,network=1", cmd::GATEWAY_OUTCOME_FAILED,
       types::ERROR_CODE_PROCESSOR_UNAVAILABLE},
  };
  for (const Case& c : cases) {
    SimulatorFixture f(c.spec);
    const GatewayAnswer a = Client(f.url())->Execute(Sale("p1:s0:a1"));
    EXPECT_EQ(a.outcome, c.outcome) << c.spec;
    EXPECT_EQ(a.error_code, c.code) << c.spec;
  }
}

TEST(HttpGateway, CaptureVoidAndRefundActOnTheCharge) {
  SimulatorFixture f("mock");
  auto g = Client(f.url());
  GatewayRequest auth = Sale("p1:s0:a1", 5000);
  auth.kind = ev::OPERATION_KIND_AUTHORIZE;
  const GatewayAnswer a = g->Execute(auth);
  ASSERT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  GatewayRequest capture = Sale("cap_1:s0", 3000);
  capture.kind = ev::OPERATION_KIND_CAPTURE;
  capture.target_reference = a.processor_reference;
  EXPECT_EQ(g->Execute(capture).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  GatewayRequest refund = Sale("ref_1:s0", 1000);
  refund.kind = ev::OPERATION_KIND_REFUND;
  refund.target_reference = a.processor_reference;
  EXPECT_EQ(g->Execute(refund).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  auto charges = f.sim->Charges();
  ASSERT_EQ(charges.size(), 1u);
  EXPECT_EQ(charges[0].authorized, 5000);
  EXPECT_EQ(charges[0].captured, 3000);
  EXPECT_EQ(charges[0].refunded, 1000);
  EXPECT_EQ(charges[0].payment_id, "p1");

  httplib::Client http("127.0.0.1", f.port);
  auto audit = http.Get("/v1/audit");
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->status, 200);
  auto j = nlohmann::json::parse(audit->body);
  EXPECT_EQ(j["charges"].size(), 1u);
  EXPECT_EQ(j["charges"][0]["captured"], 3000);
  EXPECT_EQ(j["max_charges_per_key"], 1);
}

TEST(HttpGateway, BearerTokenIsRequiredWhenTheSimulatorHasOne) {
  SimulatorFixture f("mock", 0, "sk_live_abc");
  EXPECT_EQ(Client(f.url())->Execute(Sale("p1:s0:a1")).error_code, types::ERROR_CODE_UNKNOWN);
  ::setenv("PAYORCH_TEST_TOKEN2", "sk_live_abc", 1);
  EXPECT_EQ(Client(f.url(), "?token_env=PAYORCH_TEST_TOKEN2")->Execute(Sale("p2:s0:a1")).outcome,
            cmd::GATEWAY_OUTCOME_SUCCEEDED);
}

TEST(HttpGateway, NothingListeningIsANetworkFailure) {
  int port = 0;
  {
    SimulatorFixture f("mock");
    port = f.port;
    // Served once before stopping: httplib's stop() is lost if it comes before listen().
    ASSERT_EQ(Client(f.url())->Execute(Sale("p0:s0:a1")).outcome, cmd::GATEWAY_OUTCOME_SUCCEEDED);
  }  // stopped: the port is closed
  auto g = Client("http://127.0.0.1:" + std::to_string(port));
  const GatewayAnswer a = g->Execute(Sale("p1:s0:a1"));
  EXPECT_EQ(a.outcome, cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(a.error_code, types::ERROR_CODE_NETWORK_FAILURE);
}

TEST(GatewayRegistry, BuildsHttpGatewaysFromUrlSpecs) {
  GatewayRegistry registry;
  ASSERT_TRUE(registry.ConfigureAll("stripe=http://127.0.0.1:1?timeout_ms=50;*=mock").ok());
  EXPECT_NE(dynamic_cast<HttpGateway*>(registry.Find("stripe")), nullptr);
  EXPECT_FALSE(registry.Configure("bad", "http://h?nope=1").ok());
}

}  // namespace
}  // namespace payorch::connectors
