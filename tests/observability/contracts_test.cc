#include "metrics/contracts.h"

#include <gtest/gtest.h>

#include "metrics/runtime_metrics.h"

namespace payorch::metrics {
namespace {

namespace ev = ::payments::events::v1;
namespace types = ::payments::types::v1;

TEST(ContractBreachedBy, NamesTheContractOfEachBreachingEvent) {
  struct Case {
    const char* name;
    std::function<void(ev::EventEnvelope&)> make;
    std::string_view contract;
  };
  const Case cases[] = {
      {"rejection naming a contract",
       [](ev::EventEnvelope& e) { e.mutable_command_rejected()->set_contract_id("plan/coverage"); },
       contract::kPlanCoverage},
      {"rejection naming none (e.g. a transition not allowed)",
       [](ev::EventEnvelope& e) { e.mutable_command_rejected(); }, ""},
      {"step timed out",
       [](ev::EventEnvelope& e) {
         e.mutable_step_failed()->mutable_result()->set_error_code(types::ERROR_CODE_TIMEOUT);
       },
       contract::kRouterTimeout},
      {"step declined",
       [](ev::EventEnvelope& e) {
         e.mutable_step_failed()->mutable_result()->set_error_code(types::ERROR_CODE_DECLINED);
       },
       ""},
      {"outcome unknown", [](ev::EventEnvelope& e) { e.mutable_payment_processing(); },
       contract::kGatewayUnknownOutcome},
      {"processing expired", [](ev::EventEnvelope& e) { e.mutable_processing_expired(); },
       contract::kProcessingDeadline},
      {"success", [](ev::EventEnvelope& e) { e.mutable_step_succeeded(); }, ""},
  };
  for (const auto& c : cases) {
    ev::EventEnvelope e;
    c.make(e);
    EXPECT_EQ(ContractBreachedBy(e), c.contract) << c.name;
  }
}

TEST(EventObserver, DerivesOutcomesLatenciesAndRetriesFromPublishedEvents) {
  RuntimeMetrics m;
  EventObserver observer(&m);
  auto event = [](const std::string& payment, int64_t at) {
    ev::EventEnvelope e;
    e.set_payment_id(payment);
    e.set_occurred_at_ms(at);
    return e;
  };
  std::vector<ev::EventEnvelope> created(2);
  created[0] = event("p1", 1'000);
  created[0].mutable_payment_created()->set_method(types::PAYMENT_METHOD_CARD);
  created[1] = event("p1", 1'000);
  auto* op = created[1].mutable_step_started()->mutable_op();
  op->set_idempotency_key("p1:s0:a1");
  op->set_processor_id("acme");
  observer.OnPublished(created, 1'002, 1'005);

  std::vector<ev::EventEnvelope> answer(2);
  answer[0] = event("p1", 1'050);  // the answer command appended at 1050
  auto* failed = answer[0].mutable_step_failed();
  *failed->mutable_op() = *op;
  failed->mutable_result()->set_error_code(types::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  failed->set_will_retry(true);
  answer[1] = event("p1", 1'050);
  answer[1].mutable_payment_failed();
  // The method and creation time come from the writer's state, not from a table of the
  // creates this observer saw (which lost payments to collisions under load and every payment
  // created before a restart): the answer's group carries them.
  observer.OnPublished(answer, 1'051, 1'060, {types::PAYMENT_METHOD_CARD, 1'000});

  EXPECT_EQ(m.retries.value(), 1u);
  EXPECT_EQ(m.step_to_answer.Read().count, 1u);
  EXPECT_DOUBLE_EQ(m.step_to_answer.Read().sum_seconds, 0.048);   // 1050 - 1002
  EXPECT_DOUBLE_EQ(m.create_to_final.Read().sum_seconds, 0.060);  // 1060 - 1000
  EXPECT_EQ(m.decision_to_published.Read().count, 2u);
  const auto steps = m.steps.Read();
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].values,
            (std::vector<std::string>{"acme", "UNSPECIFIED", "failed", "PROCESSOR_UNAVAILABLE"}));
  const auto payments = m.payments.Read();
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].values, (std::vector<std::string>{"failed", "CARD", "NONE"}));
}

TEST(EventObserver, CountsEveryFinalEventByItsPaymentsMethodWhateverTheObserverSaw) {
  RuntimeMetrics m;
  EventObserver observer(&m);
  // 20,000 payments in flight at once (more than any table of the observer's could hold),
  // finished without the observer having seen one of their creates.
  constexpr int kPayments = 20'000;
  std::vector<ev::EventEnvelope> done(1);
  for (int i = 0; i < kPayments; ++i) {
    done[0].Clear();
    done[0].set_payment_id("pay_" + std::to_string(i));
    done[0].mutable_payment_completed()->set_status(ev::PAYMENT_STATUS_SUCCEEDED);
    observer.OnPublished(done, 2'000, 2'010, {types::PAYMENT_METHOD_CARD, 1'000});
  }
  const auto payments = m.payments.Read();
  ASSERT_EQ(payments.size(), 1u);
  EXPECT_EQ(payments[0].values, (std::vector<std::string>{"succeeded", "CARD", "NONE"}));
  EXPECT_EQ(payments[0].value, kPayments);
  EXPECT_EQ(m.create_to_final.Read().count, static_cast<uint64_t>(kPayments));
}

}  // namespace
}  // namespace payorch::metrics
