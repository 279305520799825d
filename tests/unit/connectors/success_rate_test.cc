// Success-rate routing: the router's ranking, and the plan builder fixing it into the plan.
#include "connectors/success_rate.h"

#include <gtest/gtest.h>

#include "command/plan_builder.h"

namespace payorch::connectors {
namespace {

namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace pl = ::payments::plan::v1;
namespace types = ::payments::types::v1;

cfg::OrchestratorConfig Config(uint32_t exploration, bool enabled = true) {
  cfg::OrchestratorConfig c;
  auto* m = c.add_merchants();
  m->set_merchant_id("m_1");
  m->mutable_success_rate_routing()->set_enabled(enabled);
  m->mutable_success_rate_routing()->set_window(10);
  m->mutable_success_rate_routing()->set_exploration_percent(exploration);
  m->mutable_success_rate_routing()->set_min_samples(2);
  auto* p = m->add_profiles();
  p->set_name("card");
  p->set_method(types::PAYMENT_METHOD_CARD);
  for (const char* id : {"psp_a", "psp_b", "psp_c"}) {
    auto* s = p->add_steps();
    s->set_processor_id(id);
    s->set_role(std::string(id) == "psp_a" ? pl::STEP_ROLE_PRIMARY : pl::STEP_ROLE_FALLBACK);
  }
  return c;
}

ev::EventEnvelope Result(const std::string& processor, bool ok) {
  ev::EventEnvelope e;
  e.set_merchant_id("m_1");
  ev::GatewayOperation* op =
      ok ? e.mutable_step_succeeded()->mutable_op() : e.mutable_step_failed()->mutable_op();
  op->set_processor_id(processor);
  op->set_method(types::PAYMENT_METHOD_CARD);
  return e;
}

TEST(SuccessRateRouter, RanksByRateOverTheWindowBestFirst) {
  SuccessRateRouter router(Config(0), 1);
  for (int i = 0; i < 10; ++i) router.Observe(Result("psp_a", i < 3));  // 30 %
  for (int i = 0; i < 10; ++i) router.Observe(Result("psp_b", i < 9));  // 90 %
  for (int i = 0; i < 10; ++i) router.Observe(Result("psp_c", i < 6));  // 60 %
  EXPECT_EQ(router.Rank("m_1", types::PAYMENT_METHOD_CARD, "p1"),
            (std::vector<std::string>{"psp_b", "psp_c", "psp_a"}));
  // The window slides: psp_a's last ten results are all successes now.
  for (int i = 0; i < 10; ++i) router.Observe(Result("psp_a", true));
  EXPECT_EQ(router.Rank("m_1", types::PAYMENT_METHOD_CARD, "p1").front(), "psp_a");
}

TEST(SuccessRateRouter, SkippedStepsAndFewSamplesDoNotCount) {
  SuccessRateRouter router(Config(0), 1);
  ev::EventEnvelope skipped = Result("psp_a", false);
  skipped.mutable_step_failed()->set_circuit_open(true);
  for (int i = 0; i < 10; ++i) router.Observe(skipped);
  EXPECT_EQ(router.RateOf("m_1", types::PAYMENT_METHOD_CARD, "psp_a").second, 0u);
  router.Observe(Result("psp_b", false));  // one sample < min_samples: ranks as 1.0
  EXPECT_EQ(router.Rank("m_1", types::PAYMENT_METHOD_CARD, "p1"),
            (std::vector<std::string>{"psp_a", "psp_b", "psp_c"}));
}

TEST(SuccessRateRouter, ExplorationIsSeededPerPayment) {
  SuccessRateRouter all(Config(100), 7);
  SuccessRateRouter again(Config(100), 7);
  int differs_from_profile = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string pid = "p" + std::to_string(i);
    auto a = all.Rank("m_1", types::PAYMENT_METHOD_CARD, pid);
    EXPECT_EQ(a, again.Rank("m_1", types::PAYMENT_METHOD_CARD, pid));
    differs_from_profile += a != std::vector<std::string>{"psp_a", "psp_b", "psp_c"} ? 1 : 0;
  }
  EXPECT_GT(differs_from_profile, 10);
}

TEST(SuccessRateRouter, DisabledMerchantGetsNoPreference) {
  SuccessRateRouter router(Config(0, false), 1);
  EXPECT_TRUE(router.Rank("m_1", types::PAYMENT_METHOD_CARD, "p1").empty());
}

TEST(PlanBuilderPreference, OrdersTheGroupAndKeepsRolesByPosition) {
  command::PlanBuilder plans(Config(0));
  google::protobuf::RepeatedPtrField<std::string> pref;
  *pref.Add() = "psp_c";
  *pref.Add() = "nobody";
  *pref.Add() = "psp_a";
  pl::PaymentPlan plan;
  plan.mutable_total();
  ASSERT_FALSE(plans.BuildInto("m_1", 100, "USD", types::PAYMENT_METHOD_CARD, &plan, &pref));
  ASSERT_EQ(plan.steps_size(), 3);
  EXPECT_EQ(plan.steps(0).processor_id(), "psp_c");
  EXPECT_EQ(plan.steps(0).role(), pl::STEP_ROLE_PRIMARY);
  EXPECT_EQ(plan.steps(1).processor_id(), "psp_a");
  EXPECT_EQ(plan.steps(1).role(), pl::STEP_ROLE_FALLBACK);
  EXPECT_EQ(plan.steps(2).processor_id(), "psp_b");  // not named: after those named
}

TEST(PlanBuilderPreference, IgnoredWhenTheMerchantDoesNotEnableIt) {
  command::PlanBuilder plans(Config(0, false));
  google::protobuf::RepeatedPtrField<std::string> pref;
  *pref.Add() = "psp_c";
  pl::PaymentPlan plan;
  plan.mutable_total();
  ASSERT_FALSE(plans.BuildInto("m_1", 100, "USD", types::PAYMENT_METHOD_CARD, &plan, &pref));
  EXPECT_EQ(plan.steps(0).processor_id(), "psp_a");
}

}  // namespace
}  // namespace payorch::connectors
