// The dispatcher: which events cause a gateway call, with what request, and the command
// that carries the answer back.
#include "connectors/dispatcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/connectors/test_support.h"

namespace payorch::connectors {
namespace {

using testing::Envelope;
using testing::MakeAnswer;
using testing::Op;
using testing::ScriptedGateway;
namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

struct Fixture {
  Fixture() {
    EXPECT_TRUE(registry.Register("psp_a", gateway).ok());
    EXPECT_TRUE(registry.SetDefault("").ok());
  }
  GatewayRegistry registry;
  std::shared_ptr<ScriptedGateway> gateway = std::make_shared<ScriptedGateway>();
  Dispatcher dispatcher{registry};
};

struct StartedCase {
  const char* name;
  ev::OperationKind kind;
  std::string key;
  std::function<void(ev::EventEnvelope&, const ev::GatewayOperation&)> set;
};

std::vector<StartedCase> StartedCases() {
  return {
      {"StepStarted", ev::OPERATION_KIND_SALE, "pay_1:s2:a3",
       [](ev::EventEnvelope& e, const ev::GatewayOperation& op) {
         *e.mutable_step_started()->mutable_op() = op;
       }},
      {"StepStarted (authorize)", ev::OPERATION_KIND_AUTHORIZE, "pay_1:s0:a1",
       [](ev::EventEnvelope& e, const ev::GatewayOperation& op) {
         *e.mutable_step_started()->mutable_op() = op;
       }},
      {"CaptureStarted", ev::OPERATION_KIND_CAPTURE, "cap_7:s0",
       [](ev::EventEnvelope& e, const ev::GatewayOperation& op) {
         e.mutable_capture_started()->set_capture_id("cap_7");
         *e.mutable_capture_started()->mutable_op() = op;
       }},
      {"VoidStarted", ev::OPERATION_KIND_VOID, "pay_1:v2",
       [](ev::EventEnvelope& e, const ev::GatewayOperation& op) {
         *e.mutable_void_started()->mutable_op() = op;
         e.mutable_void_started()->set_compensation(true);
       }},
      {"RefundStarted", ev::OPERATION_KIND_REFUND, "ref_3:s1",
       [](ev::EventEnvelope& e, const ev::GatewayOperation& op) {
         e.mutable_refund_started()->set_refund_id("ref_3");
         *e.mutable_refund_started()->mutable_op() = op;
       }},
  };
}

TEST(Dispatcher, EachStartedEventCallsTheGatewayWithItsOperation) {
  for (const StartedCase& c : StartedCases()) {
    SCOPED_TRACE(c.name);
    Fixture f;
    f.gateway->execute_answer =
        MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 900, types::ERROR_CODE_UNSPECIFIED, "ref-9");
    f.gateway->execute_answer.latency_ms = 12;
    ev::EventEnvelope e = Envelope("pay_1", 4);
    ev::GatewayOperation op = Op(c.kind, c.key, "psp_a", 900, 2, "auth-ref");
    c.set(e, op);

    const auto command = f.dispatcher.Handle(e);
    ASSERT_TRUE(command.has_value());
    ASSERT_EQ(f.gateway->executes.size(), 1u);
    const GatewayRequest& r = f.gateway->executes[0];
    EXPECT_EQ(r.kind, c.kind);
    EXPECT_EQ(r.idempotency_key, c.key);
    EXPECT_EQ(r.processor_id, "psp_a");
    EXPECT_EQ(r.method, types::PAYMENT_METHOD_CARD);
    EXPECT_EQ(r.amount_minor, 900);
    EXPECT_EQ(r.currency, "EUR");
    EXPECT_EQ(r.target_reference, "auth-ref");
    EXPECT_EQ(r.timeout_ms, 2000u);
    EXPECT_EQ(r.payment_id, "pay_1");
    EXPECT_EQ(r.step_index, 2u);

    EXPECT_EQ(command->schema_version(), 1u);
    EXPECT_EQ(command->payment_id(), "pay_1");
    EXPECT_EQ(command->correlation_id(), "corr-pay_1");
    EXPECT_EQ(command->command_id(), "gw/" + c.key + "/call");
    ASSERT_TRUE(command->has_gateway_result());
    const cmd::RecordGatewayResult& g = command->gateway_result();
    EXPECT_EQ(g.operation_key(), c.key);
    EXPECT_EQ(g.outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
    EXPECT_EQ(g.amount_processed_minor(), 900);
    EXPECT_EQ(g.error_code(), types::ERROR_CODE_UNSPECIFIED);
    EXPECT_EQ(g.processor_reference(), "ref-9");
    EXPECT_EQ(g.latency_ms(), 12u);
    EXPECT_EQ(g.processor_id(), "psp_a");
    EXPECT_EQ(g.source(), "call");
    EXPECT_EQ(f.dispatcher.probe().kinds[c.kind].load(), 1u);
  }
}

TEST(Dispatcher, AnswersAreCarriedAsTheGatewayGaveThem) {
  const GatewayAnswer answers[] = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_DECLINED, "r"),
      MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN, 0, types::ERROR_CODE_TIMEOUT),
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_INVALID_CARD),
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 400, types::ERROR_CODE_UNSPECIFIED, "r"),
  };
  Fixture f;
  for (const GatewayAnswer& a : answers) {
    f.gateway->execute_answer = a;
    ev::EventEnvelope e = Envelope("pay_1");
    *e.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1");
    const auto command = f.dispatcher.Handle(e);
    ASSERT_TRUE(command.has_value());
    EXPECT_EQ(command->gateway_result().outcome(), a.outcome);
    EXPECT_EQ(command->gateway_result().error_code(), a.error_code);
    EXPECT_EQ(command->gateway_result().amount_processed_minor(), a.amount_processed_minor);
  }
  const DispatcherProbe& p = f.dispatcher.probe();
  EXPECT_TRUE(f.gateway->retrieves.empty());  // each of these is recorded by the gateway
  EXPECT_EQ(p.calls.load(), 4u);
  EXPECT_EQ(p.outcomes[cmd::GATEWAY_OUTCOME_FAILED].load(), 2u);
  EXPECT_EQ(p.outcomes[cmd::GATEWAY_OUTCOME_UNKNOWN].load(), 1u);
  EXPECT_EQ(p.outcomes[cmd::GATEWAY_OUTCOME_SUCCEEDED].load(), 1u);
}

// A failure the gateway keeps no record of leaves the key open; it is answered only once
// a Retrieve() sealed the key (NOT_FOUND), or with what the gateway recorded meanwhile.
TEST(Dispatcher, AnUnrecordedFailureIsAnsweredOnlyOnceItsKeyIsSealed) {
  struct Case {
    const char* name;
    GatewayAnswer execute;
    std::optional<GatewayAnswer> retrieve;  // nullopt: no retrieve expected
    GatewayAnswer want;
    uint64_t unsealed;
  };
  const GatewayAnswer network =
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_NETWORK_FAILURE);
  const GatewayAnswer unavailable =
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  const GatewayAnswer not_found = MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND);
  const GatewayAnswer charged =
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 900, types::ERROR_CODE_UNSPECIFIED, "ref-r");
  const GatewayAnswer declined =
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_DECLINED, "ref-d");
  const GatewayAnswer unknown =
      MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN, 0, types::ERROR_CODE_TIMEOUT);
  const std::vector<Case> cases = {
      {"network failure, sealed", network, not_found, network, 0},
      {"processor unavailable, sealed", unavailable, not_found, unavailable, 0},
      {"a racing call charged first", network, charged, charged, 0},
      {"a racing call was declined first", unavailable, declined, declined, 0},
      {"the seal is not answered", network, unknown,
       MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN, 0, types::ERROR_CODE_NETWORK_FAILURE), 1},
      {"a recorded decline needs no seal", declined, std::nullopt, declined, 0},
  };
  for (const StartedCase& kind : StartedCases()) {
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(kind.name) + ": " + c.name);
      Fixture f;
      f.gateway->execute_answer = c.execute;
      if (c.retrieve) f.gateway->retrieve_script.push_back(*c.retrieve);
      ev::EventEnvelope e = Envelope("pay_1");
      kind.set(e, Op(kind.kind, kind.key, "psp_a", 900, 0, "auth-ref"));

      const auto command = f.dispatcher.Handle(e);
      ASSERT_TRUE(command.has_value());
      const cmd::RecordGatewayResult& g = command->gateway_result();
      EXPECT_EQ(g.outcome(), c.want.outcome);
      EXPECT_EQ(g.error_code(), c.want.error_code);
      EXPECT_EQ(g.amount_processed_minor(), c.want.amount_processed_minor);
      EXPECT_EQ(g.processor_reference(), c.want.processor_reference);
      EXPECT_EQ(command->command_id(), "gw/" + kind.key + "/call");
      EXPECT_EQ(f.gateway->executes.size(), 1u);
      if (c.retrieve) {
        EXPECT_THAT(f.gateway->retrieves, ::testing::ElementsAre(kind.key));
      } else {
        EXPECT_TRUE(f.gateway->retrieves.empty());
      }
      EXPECT_EQ(f.dispatcher.probe().seals.load(), c.retrieve ? 1u : 0u);
      EXPECT_EQ(f.dispatcher.probe().unsealed.load(), c.unsealed);
    }
  }
}

// The case the seal exists for: an event dispatched twice (a connector restart, or two
// connectors during a rebalance) after a network failure. The simulated processor keeps
// no record of the failure, so without the seal the second call is a fresh try that can
// charge a payment the core has already moved past.
TEST(Dispatcher, ACallRepeatedAfterANetworkFailureNeverCharges) {
  GatewayRegistry registry({.ledger_dir = "",
                            .default_spec = "flaky:seed=5,network=0.3,unavailable=0.3",
                            .sleep = [](std::chrono::milliseconds) {}});
  Dispatcher dispatcher(registry);
  int failed_first = 0;
  int succeeded_first = 0;
  for (int i = 0; i < 60; ++i) {
    const std::string payment = "pay_" + std::to_string(i);
    ev::EventEnvelope e = Envelope(payment);
    *e.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_SALE, payment + ":s0:a1");
    const auto first = dispatcher.Handle(e);
    const auto again = dispatcher.Handle(e);
    ASSERT_TRUE(first && again);
    const cmd::RecordGatewayResult& r = first->gateway_result();
    if (r.outcome() == cmd::GATEWAY_OUTCOME_SUCCEEDED) ++succeeded_first;
    if (r.outcome() != cmd::GATEWAY_OUTCOME_FAILED || r.circuit_open()) continue;
    ++failed_first;
    EXPECT_EQ(again->gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED) << payment;
  }
  EXPECT_GT(failed_first, 10);  // the seed gives network failures and 5xx
  // Each failed key is sealed by its first call; the repeat is refused as sealed (a
  // retryable PROCESSOR_UNAVAILABLE, the seal's meaning) and sealed again, harmlessly.
  EXPECT_EQ(dispatcher.probe().seals.load(), 2 * static_cast<uint64_t>(failed_first));
  const AuditReport audit = AuditLedger(registry.LedgerEntries());
  EXPECT_TRUE(audit.clean());
  int charged = 0;
  for (const auto& [payment, totals] : audit.payments) charged += totals.charges;
  EXPECT_EQ(charged, succeeded_first);  // only the calls that succeeded the first time
}

TEST(Dispatcher, EventsThatStartNoOperationCallNothing) {
  std::vector<ev::EventEnvelope> events;
  events.push_back(Envelope("pay_1"));  // no event at all
  events.push_back(Envelope("pay_1"));
  events.back().mutable_payment_created()->mutable_amount()->set_amount_minor(5);
  events.push_back(Envelope("pay_1"));
  *events.back().mutable_step_succeeded()->mutable_op() = Op(ev::OPERATION_KIND_SALE, "k");
  events.push_back(testing::Processing("pay_1", Op(ev::OPERATION_KIND_SALE, "k"), 100));
  events.push_back(Envelope("pay_1"));
  *events.back().mutable_processing_expired()->mutable_op() = Op(ev::OPERATION_KIND_SALE, "k");
  events.push_back(Envelope(""));
  events.back().mutable_writer_claimed()->set_epoch(2);
  events.push_back(Envelope("pay_1"));
  *events.back().mutable_payment_voided()->mutable_op() = Op(ev::OPERATION_KIND_VOID, "k");

  Fixture f;
  for (const auto& e : events) EXPECT_FALSE(f.dispatcher.Handle(e).has_value());
  EXPECT_TRUE(f.gateway->executes.empty());
  EXPECT_EQ(f.dispatcher.probe().ignored.load(), events.size());
}

TEST(Dispatcher, UnroutableProcessorIsAnsweredFailedWithoutACall) {
  Fixture f;
  ev::EventEnvelope e = Envelope("pay_1");
  *e.mutable_step_started()->mutable_op() =
      Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a1", "psp_nobody");
  const auto command = f.dispatcher.Handle(e);
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(command->gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(command->gateway_result().error_code(), types::ERROR_CODE_UNKNOWN);
  EXPECT_EQ(command->gateway_result().processor_id(), "psp_nobody");
  EXPECT_TRUE(f.gateway->executes.empty());
  EXPECT_EQ(f.dispatcher.probe().unroutable.load(), 1u);
}

TEST(Dispatcher, RedeliveredEventGivesTheSameCommandAndChargesOnce) {
  GatewayRegistry registry({.ledger_dir = "",
                            .default_spec = "flaky:seed=11,decline=0.2,lost=0.2,timeout=0.2",
                            .sleep = [](std::chrono::milliseconds) {}});
  Dispatcher dispatcher(registry);
  for (int i = 0; i < 50; ++i) {
    const std::string key = "pay_" + std::to_string(i) + ":s0:a1";
    ev::EventEnvelope e = Envelope("pay_" + std::to_string(i));
    *e.mutable_step_started()->mutable_op() = Op(ev::OPERATION_KIND_SALE, key);
    const auto first = dispatcher.Handle(e);
    const auto again = dispatcher.Handle(e);
    ASSERT_TRUE(first && again);
    EXPECT_EQ(first->command_id(), again->command_id());
    if (first->gateway_result().outcome() != cmd::GATEWAY_OUTCOME_UNKNOWN) {
      EXPECT_EQ(first->SerializeAsString(), again->SerializeAsString()) << key;
    }
  }
  const AuditReport audit = AuditLedger(registry.LedgerEntries());
  EXPECT_TRUE(audit.clean());
  for (const auto& [payment, totals] : audit.payments) EXPECT_LE(totals.charges, 1) << payment;
}

}  // namespace
}  // namespace payorch::connectors
