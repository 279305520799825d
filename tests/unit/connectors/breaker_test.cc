// Circuit breaker: the pure state machine, and the dispatcher skipping an open processor.
#include "connectors/breaker.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "connectors/dispatcher.h"

namespace payorch::connectors {
namespace {

namespace cmd = ::payments::commands::v1;
namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

constexpr BreakerConfig kConfig{.failure_threshold = 3, .open_ms = 1000, .half_open_probes = 2};

TEST(Breaker, OpensAfterThresholdConsecutiveFailuresOnly) {
  Breaker b;
  EXPECT_FALSE(Record(b, kConfig, true, 1));
  EXPECT_FALSE(Record(b, kConfig, true, 2));
  EXPECT_FALSE(Record(b, kConfig, false, 3));  // a success resets the count
  EXPECT_FALSE(Record(b, kConfig, true, 4));
  EXPECT_FALSE(Record(b, kConfig, true, 5));
  auto t = Record(b, kConfig, true, 6);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, cmd::BREAKER_STATE_CLOSED);
  EXPECT_EQ(t->to, cmd::BREAKER_STATE_OPEN);
  EXPECT_EQ(t->at_ms, 6);
  EXPECT_EQ(t->consecutive_failures, 3u);
}

TEST(Breaker, OpenRefusesUntilOpenMsThenLetsProbesThrough) {
  Breaker b;
  for (int i = 0; i < 3; ++i) (void)Record(b, kConfig, true, 0);
  EXPECT_FALSE(Admit(b, kConfig, 999).allowed);
  Admission first = Admit(b, kConfig, 1000);
  EXPECT_TRUE(first.allowed);
  ASSERT_TRUE(first.transition);
  EXPECT_EQ(first.transition->to, cmd::BREAKER_STATE_HALF_OPEN);
  EXPECT_TRUE(Admit(b, kConfig, 1001).allowed);   // second probe
  EXPECT_FALSE(Admit(b, kConfig, 1002).allowed);  // only two in flight
  EXPECT_FALSE(Record(b, kConfig, false, 1003));
  auto closed = Record(b, kConfig, false, 1004);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->to, cmd::BREAKER_STATE_CLOSED);
  EXPECT_TRUE(Admit(b, kConfig, 1005).allowed);
}

TEST(Breaker, AFailedProbeReopens) {
  Breaker b;
  for (int i = 0; i < 3; ++i) (void)Record(b, kConfig, true, 0);
  ASSERT_TRUE(Admit(b, kConfig, 2000).allowed);
  auto t = Record(b, kConfig, true, 2001);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, cmd::BREAKER_STATE_HALF_OPEN);
  EXPECT_EQ(t->to, cmd::BREAKER_STATE_OPEN);
  EXPECT_FALSE(Admit(b, kConfig, 2500).allowed);  // open_ms counts from the reopening
  EXPECT_TRUE(Admit(b, kConfig, 3001).allowed);
}

TEST(Breaker, ZeroThresholdNeverOpens) {
  Breaker b;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(Record(b, BreakerConfig{}, true, i));
  EXPECT_TRUE(Admit(b, BreakerConfig{}, 100).allowed);
}

TEST(Breaker, OnlyAvailabilityFailuresCount) {
  struct Case {
    cmd::GatewayOutcome outcome;
    types::ErrorCode code;
    bool counts;
  };
  const Case cases[] = {
      {cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED, false},
      {cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED, false},
      {cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_HARD_DECLINE, false},
      {cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_PROCESSOR_UNAVAILABLE, true},
      {cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_NETWORK_FAILURE, true},
      {cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT, true},
  };
  for (const Case& c : cases) {
    GatewayAnswer a;
    a.outcome = c.outcome;
    a.error_code = c.code;
    EXPECT_EQ(IsAvailabilityFailure(a), c.counts) << types::ErrorCode_Name(c.code);
  }
}

// Issue 16: a processor over the merchant's latency budget opens the breaker even when it
// answers; a fast decline is still a healthy answer.
TEST(Breaker, SlowAnswersCountAgainstTheLatencyBudget) {
  const BreakerConfig budget{.failure_threshold = 2, .slow_call_ms = 800};
  struct Case {
    const char* name;
    cmd::GatewayOutcome outcome;
    types::ErrorCode code;
    uint32_t latency_ms;
    bool counts;
  };
  const Case cases[] = {
      {"fast success", cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED, 120, false},
      {"success at the budget", cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED, 800,
       false},
      {"slow success", cmd::GATEWAY_OUTCOME_SUCCEEDED, types::ERROR_CODE_UNSPECIFIED, 801, true},
      {"fast decline", cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED, 50, false},
      {"slow decline", cmd::GATEWAY_OUTCOME_FAILED, types::ERROR_CODE_DECLINED, 2000, true},
      {"timeout", cmd::GATEWAY_OUTCOME_UNKNOWN, types::ERROR_CODE_TIMEOUT, 800, true},
  };
  for (const Case& c : cases) {
    GatewayAnswer a;
    a.outcome = c.outcome;
    a.error_code = c.code;
    a.latency_ms = c.latency_ms;
    EXPECT_EQ(IsAvailabilityFailure(a, budget), c.counts) << c.name;
    EXPECT_EQ(IsAvailabilityFailure(a), c.outcome == cmd::GATEWAY_OUTCOME_UNKNOWN)
        << c.name << ": without a budget only the timeout counts";
  }
  // Two slow successes in a row open it, through the book as the dispatcher feeds it.
  ::payments::config::v1::OrchestratorConfig config;
  auto* m = config.add_merchants();
  m->set_merchant_id("m_1");
  m->mutable_circuit_breaker()->set_failure_threshold(2);
  m->mutable_circuit_breaker()->set_slow_call_ms(800);
  BreakerBook book;
  book.Configure(config);
  GatewayAnswer slow;
  slow.outcome = cmd::GATEWAY_OUTCOME_SUCCEEDED;
  slow.latency_ms = 1500;
  ASSERT_TRUE(book.Admit("m_1", "psp_a", 0).allowed);
  EXPECT_FALSE(book.Record("m_1", "psp_a", slow, 10).has_value());
  ASSERT_TRUE(book.Admit("m_1", "psp_a", 20).allowed);
  const auto opened = book.Record("m_1", "psp_a", slow, 30);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->to, cmd::BREAKER_STATE_OPEN);
  EXPECT_FALSE(book.Admit("m_1", "psp_a", 40).allowed);
}

ev::EventEnvelope SaleStarted(const std::string& payment, const std::string& processor) {
  ev::EventEnvelope e;
  e.set_payment_id(payment);
  e.set_merchant_id("m_1");
  auto* op = e.mutable_step_started()->mutable_op();
  op->set_kind(ev::OPERATION_KIND_SALE);
  op->set_idempotency_key(payment + ":s0:a1");
  op->set_processor_id(processor);
  op->mutable_amount()->set_amount_minor(100);
  op->mutable_amount()->set_currency("USD");
  return e;
}

TEST(DispatcherBreaker, OpenBreakerSkipsTheCallAndRecordsTheTransitionFirst) {
  GatewayRegistry registry;
  ASSERT_TRUE(registry.Configure("down", "flaky:seed=1,unavailable=1").ok());
  ::payments::config::v1::OrchestratorConfig config;
  auto* m = config.add_merchants();
  m->set_merchant_id("m_1");
  m->mutable_circuit_breaker()->set_failure_threshold(2);
  m->mutable_circuit_breaker()->set_open_ms(500);
  registry.breakers().Configure(config);
  ManualClock clock(10'000);
  Dispatcher dispatcher(registry, &clock);

  auto first = dispatcher.HandleAll(SaleStarted("p1", "down"));
  ASSERT_EQ(first.size(), 1u);  // the failure, no transition yet
  auto second = dispatcher.HandleAll(SaleStarted("p2", "down"));
  ASSERT_EQ(second.size(), 2u);
  ASSERT_TRUE(second[0].has_breaker_transition());
  EXPECT_EQ(second[0].breaker_transition().to(), cmd::BREAKER_STATE_OPEN);
  EXPECT_EQ(second[0].payment_id(), "p2");
  EXPECT_EQ(second[1].gateway_result().source(), "call");

  auto skipped = dispatcher.HandleAll(SaleStarted("p3", "down"));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_TRUE(skipped[0].gateway_result().circuit_open());
  EXPECT_EQ(skipped[0].gateway_result().outcome(), cmd::GATEWAY_OUTCOME_FAILED);
  EXPECT_EQ(skipped[0].command_id(), "gw/p3:s0:a1/breaker");
  EXPECT_EQ(dispatcher.probe().calls.load(), 2u);
  EXPECT_EQ(dispatcher.probe().skipped.load(), 1u);

  clock.Advance(std::chrono::milliseconds(500));
  auto probe = dispatcher.HandleAll(SaleStarted("p4", "down"));
  ASSERT_EQ(probe.size(), 3u);  // -> HALF_OPEN, the call, -> OPEN again
  EXPECT_EQ(probe[0].breaker_transition().to(), cmd::BREAKER_STATE_HALF_OPEN);
  EXPECT_EQ(probe[1].breaker_transition().to(), cmd::BREAKER_STATE_OPEN);
  EXPECT_FALSE(probe[2].gateway_result().circuit_open());
}

TEST(DispatcherBreaker, MerchantsWithoutABreakerAlwaysCall) {
  GatewayRegistry registry;
  ASSERT_TRUE(registry.Configure("down", "flaky:seed=1,unavailable=1").ok());
  Dispatcher dispatcher(registry);
  for (int i = 0; i < 20; ++i) {
    auto out = dispatcher.HandleAll(SaleStarted("p" + std::to_string(i), "down"));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].gateway_result().circuit_open());
  }
  EXPECT_EQ(dispatcher.probe().calls.load(), 20u);
}

}  // namespace
}  // namespace payorch::connectors
