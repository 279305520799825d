// PlanBuilder: the seed specification's plans, profile choice, coverage and determinism.
#include "command/plan_builder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/command_harness.h"

namespace payorch::command {
namespace {

using testing::AddStep;
using testing::DeterministicBytes;
using testing::kCappedMerchant;
using testing::kLimitedMerchant;
using testing::kSeedMerchant;
using testing::SeedConfig;
namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace pl = ::payments::plan::v1;
namespace ty = ::payments::types::v1;

struct ExpectedStep {
  ty::PaymentMethod method;
  const char* processor;
  int64_t max;
  pl::StepRole role;
};

void ExpectSteps(const pl::PaymentPlan& plan, const std::vector<ExpectedStep>& steps) {
  ASSERT_EQ(plan.steps_size(), static_cast<int>(steps.size())) << plan.ShortDebugString();
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& s = plan.steps(static_cast<int>(i));
    EXPECT_EQ(s.method(), steps[i].method) << "step " << i;
    EXPECT_EQ(s.processor_id(), steps[i].processor) << "step " << i;
    EXPECT_EQ(s.max_amount_minor(), steps[i].max) << "step " << i;
    EXPECT_EQ(s.role(), steps[i].role) << "step " << i;
  }
}

TEST(PlanBuilderTest, CardGoesToCoBrandedFirstWithStripeAsFallback) {
  PlanBuilder b(SeedConfig());
  auto plan = b.Build(kSeedMerchant, 12'345, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_TRUE(plan.ok()) << plan.rejection().detail;
  const auto& p = plan.value();
  EXPECT_EQ(p.schema_version(), 1u);
  EXPECT_EQ(p.profile(), "card_cobranded");
  EXPECT_EQ(p.total().amount_minor(), 12'345);
  EXPECT_EQ(p.total().currency(), "USD");
  EXPECT_EQ(p.max_retries_per_step(), testing::kSeedMaxRetries);
  EXPECT_EQ(p.attempt_timeout_ms(), 1'500u);
  EXPECT_EQ(p.processing_deadline_ms(), testing::kSeedDeadlineMs);
  ExpectSteps(p, {{ty::PAYMENT_METHOD_CARD, "cobranded", 0, pl::STEP_ROLE_PRIMARY},
                  {ty::PAYMENT_METHOD_CARD, "stripe", 0, pl::STEP_ROLE_FALLBACK}});
}

TEST(PlanBuilderTest, ApplePayTakesItsPartAndACardPaysTheRemainder) {
  PlanBuilder b(SeedConfig());
  auto plan = b.Build(kSeedMerchant, 15'000, "USD", ty::PAYMENT_METHOD_APPLE_PAY);
  ASSERT_TRUE(plan.ok()) << plan.rejection().detail;
  EXPECT_EQ(plan.value().profile(), "apple_pay_split");
  ExpectSteps(plan.value(), {{ty::PAYMENT_METHOD_APPLE_PAY, "applepay", testing::kApplePayMax,
                              pl::STEP_ROLE_PRIMARY},
                             {ty::PAYMENT_METHOD_CARD, "stripe", 0, pl::STEP_ROLE_SPLIT}});
}

TEST(PlanBuilderTest, OtherMethodsUseTheCatchAllProfileWithThePaymentsMethod) {
  PlanBuilder b(SeedConfig());
  for (auto method : {ty::PAYMENT_METHOD_GOOGLE_PAY, ty::PAYMENT_METHOD_BANK_TRANSFER}) {
    auto plan = b.Build(kSeedMerchant, 500, "EUR", method);
    ASSERT_TRUE(plan.ok()) << plan.rejection().detail;
    EXPECT_EQ(plan.value().profile(), "default");
    ExpectSteps(plan.value(), {{method, "adyen", 0, pl::STEP_ROLE_PRIMARY}});
  }
}

TEST(PlanBuilderTest, ExactMethodProfileWinsOverAnEarlierCatchAll) {
  cfg::OrchestratorConfig c;
  auto* m = c.add_merchants();
  m->set_merchant_id("m");
  auto* any = m->add_profiles();
  any->set_name("any");
  AddStep(any, ty::PAYMENT_METHOD_UNSPECIFIED, "p_any", 0, pl::STEP_ROLE_PRIMARY);
  auto* card1 = m->add_profiles();
  card1->set_name("card_first");
  card1->set_method(ty::PAYMENT_METHOD_CARD);
  AddStep(card1, ty::PAYMENT_METHOD_CARD, "p_card1", 0, pl::STEP_ROLE_PRIMARY);
  auto* card2 = m->add_profiles();
  card2->set_name("card_second");
  card2->set_method(ty::PAYMENT_METHOD_CARD);
  AddStep(card2, ty::PAYMENT_METHOD_CARD, "p_card2", 0, pl::STEP_ROLE_PRIMARY);
  PlanBuilder b(c);
  auto card = b.Build("m", 100, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card.value().profile(), "card_first");
  auto apple = b.Build("m", 100, "USD", ty::PAYMENT_METHOD_APPLE_PAY);
  ASSERT_TRUE(apple.ok());
  EXPECT_EQ(apple.value().profile(), "any");
}

TEST(PlanBuilderTest, UnsetRolesBecomePrimaryThenSplitAndZeroSettingsGetDefaults) {
  cfg::OrchestratorConfig c;
  auto* m = c.add_merchants();
  m->set_merchant_id("m");
  auto* p = m->add_profiles();
  p->set_name("two");
  AddStep(p, ty::PAYMENT_METHOD_CARD, "a", 100, pl::STEP_ROLE_UNSPECIFIED);
  AddStep(p, ty::PAYMENT_METHOD_CARD, "b", 0, pl::STEP_ROLE_UNSPECIFIED);
  PlanBuilder b(c);
  auto plan = b.Build("m", 1'000, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_TRUE(plan.ok());
  ExpectSteps(plan.value(), {{ty::PAYMENT_METHOD_CARD, "a", 100, pl::STEP_ROLE_PRIMARY},
                             {ty::PAYMENT_METHOD_CARD, "b", 0, pl::STEP_ROLE_SPLIT}});
  EXPECT_EQ(plan.value().max_retries_per_step(), kDefaultMaxRetriesPerStep);
  EXPECT_EQ(plan.value().attempt_timeout_ms(), kDefaultAttemptTimeoutMs);
  EXPECT_EQ(plan.value().processing_deadline_ms(), kDefaultProcessingDeadlineMs);
}

TEST(PlanBuilderTest, SameInputGivesByteIdenticalPlans) {
  PlanBuilder a(SeedConfig());
  PlanBuilder b(SeedConfig());
  for (auto method :
       {ty::PAYMENT_METHOD_CARD, ty::PAYMENT_METHOD_APPLE_PAY, ty::PAYMENT_METHOD_GOOGLE_PAY}) {
    auto p1 = a.Build(kSeedMerchant, 15'000, "USD", method);
    auto p2 = a.Build(kSeedMerchant, 15'000, "USD", method);
    auto p3 = b.Build(kSeedMerchant, 15'000, "USD", method);
    ASSERT_TRUE(p1.ok() && p2.ok() && p3.ok());
    EXPECT_EQ(DeterministicBytes(p1.value()), DeterministicBytes(p2.value()));
    EXPECT_EQ(DeterministicBytes(p1.value()), DeterministicBytes(p3.value()));
    EXPECT_EQ(p1.value().SerializeAsString(), p3.value().SerializeAsString());
  }
}

TEST(PlanBuilderTest, AmountBeyondTheStepsMaximaIsACoverageViolation) {
  PlanBuilder b(SeedConfig());
  auto fits = b.Build(kCappedMerchant, 5'000, "USD", ty::PAYMENT_METHOD_CARD);
  EXPECT_TRUE(fits.ok());
  auto over = b.Build(kCappedMerchant, 5'001, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.rejection().reason, ev::REJECT_REASON_PLAN_COVERAGE);
  EXPECT_EQ(over.rejection().contract_id, "plan/coverage");
}

TEST(PlanBuilderTest, MethodWithoutAProfileIsACoverageViolation) {
  PlanBuilder b(SeedConfig());
  auto plan = b.Build(kCappedMerchant, 100, "USD", ty::PAYMENT_METHOD_APPLE_PAY);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.rejection().reason, ev::REJECT_REASON_PLAN_COVERAGE);
  EXPECT_EQ(plan.rejection().contract_id, "plan/coverage");
}

TEST(PlanBuilderTest, ProfileWithoutStepsIsACoverageViolation) {
  cfg::OrchestratorConfig c;
  auto* m = c.add_merchants();
  m->set_merchant_id("m");
  m->add_profiles()->set_name("empty");
  PlanBuilder b(c);
  auto plan = b.Build("m", 100, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.rejection().contract_id, "plan/coverage");
}

TEST(PlanBuilderTest, UnknownMerchantIsRejected) {
  PlanBuilder b(SeedConfig());
  auto plan = b.Build("m_nobody", 100, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.rejection().reason, ev::REJECT_REASON_MERCHANT_UNKNOWN);
  EXPECT_EQ(b.FindMerchant("m_nobody"), nullptr);
  EXPECT_NE(b.FindMerchant(kLimitedMerchant), nullptr);
  EXPECT_EQ(PlanBuilder().FindMerchant(kSeedMerchant), nullptr);
}

TEST(PlanBuilderTest, FirstDefinitionOfAMerchantWins) {
  cfg::OrchestratorConfig c;
  for (const char* processor : {"first", "second"}) {
    auto* m = c.add_merchants();
    m->set_merchant_id("m");
    auto* p = m->add_profiles();
    p->set_name(processor);
    AddStep(p, ty::PAYMENT_METHOD_CARD, processor, 0, pl::STEP_ROLE_PRIMARY);
  }
  PlanBuilder b(c);
  auto plan = b.Build("m", 100, "USD", ty::PAYMENT_METHOD_CARD);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().steps(0).processor_id(), "first");
}

struct CapacityCase {
  const char* name;
  std::vector<std::pair<int64_t, pl::StepRole>> steps;
  int64_t capacity;
};

TEST(PlanCapacityTest, FallbacksShareTheirGroupAndSplitsAdd) {
  const CapacityCase cases[] = {
      {"single_bounded", {{100, pl::STEP_ROLE_PRIMARY}}, 100},
      {"single_unbounded", {{0, pl::STEP_ROLE_PRIMARY}}, -1},
      {"fallback_takes_the_larger",
       {{100, pl::STEP_ROLE_PRIMARY}, {200, pl::STEP_ROLE_FALLBACK}},
       200},
      {"split_adds", {{100, pl::STEP_ROLE_PRIMARY}, {50, pl::STEP_ROLE_SPLIT}}, 150},
      {"unbounded_fallback", {{100, pl::STEP_ROLE_PRIMARY}, {0, pl::STEP_ROLE_FALLBACK}}, -1},
      {"group_then_split",
       {{100, pl::STEP_ROLE_PRIMARY}, {50, pl::STEP_ROLE_FALLBACK}, {30, pl::STEP_ROLE_SPLIT}},
       130},
      {"two_groups",
       {{100, pl::STEP_ROLE_PRIMARY},
        {150, pl::STEP_ROLE_FALLBACK},
        {30, pl::STEP_ROLE_SPLIT},
        {40, pl::STEP_ROLE_FALLBACK}},
       190},
      {"leading_fallback_opens_a_group", {{70, pl::STEP_ROLE_FALLBACK}}, 70},
      {"empty_plan", {}, 0},
      {"huge_maxima_count_as_unbounded",
       {{int64_t{1} << 62, pl::STEP_ROLE_PRIMARY}, {int64_t{1} << 62, pl::STEP_ROLE_SPLIT}},
       -1},
  };
  for (const auto& c : cases) {
    pl::PaymentPlan plan;
    for (const auto& [max, role] : c.steps) {
      auto* s = plan.add_steps();
      s->set_max_amount_minor(max);
      s->set_role(role);
    }
    EXPECT_EQ(PlanCapacity(plan), c.capacity) << c.name;
  }
}

}  // namespace
}  // namespace payorch::command
