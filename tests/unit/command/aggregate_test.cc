// The payment aggregate, end to end through DecideAndApply: each test is one scenario of
// commands (gateway answers sent explicitly as RecordGatewayResult) and pins the events
// and the state they lead to. Every command sent through the fixture is also checked for
// the per-command guarantees: at least one event, gap-free sequences, causation
// index/count, a lossless serialization round trip, and Decide == DecideAndApply.
#include "command/aggregate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "command/lifecycle.h"
#include "command/transitions.h"
#include "support/command_harness.h"
#include "support/state_dump.h"

namespace payorch::command {
namespace {

using testing::CommandHarness;
using testing::CountOf;
using testing::CreateOptions;
using ::testing::ElementsAre;
using testing::Events;
using ::testing::IsEmpty;
using testing::kCappedMerchant;
using testing::kSeedMerchant;
using testing::OfCase;
using testing::OnlyOf;
using testing::Outcome;
using testing::Types;
namespace cmd = ::payments::commands::v1;
namespace ty = ::payments::types::v1;
using E = ev::EventEnvelope;

std::string Key(const std::string& pid, int step, int attempt) {
  return pid + ":s" + std::to_string(step) + ":a" + std::to_string(attempt);
}

class AggregateTest : public ::testing::Test {
 protected:
  // Sends one command, checks what must hold for every command, returns its events.
  Events Send(const cmd::CommandEnvelope& c) {
    const std::string pid = TargetPaymentId(c);
    PaymentState before;
    if (!pid.empty() && h_.has_state(pid)) before = h_.state(pid);
    if (!pid.empty() && before.payment_id.empty()) before.payment_id = pid;

    const Events events = h_.Send(c);
    EXPECT_FALSE(events.empty()) << "every command yields at least one event";
    for (size_t i = 0; i < events.size(); ++i) {
      const E& e = events[i];
      EXPECT_EQ(e.causation().index(), i);
      EXPECT_EQ(e.causation().count(), events.size());
      EXPECT_EQ(e.schema_version(), 1u);
      EXPECT_EQ(e.epoch(), 1u);
      E parsed;
      EXPECT_TRUE(parsed.ParseFromString(e.SerializeAsString()))
          << "event does not survive a serialization round trip: " << e.ShortDebugString();
      EXPECT_EQ(testing::DeterministicBytes(parsed), testing::DeterministicBytes(e));
      if (!e.payment_id().empty()) {
        EXPECT_EQ(e.sequence(), before.sequence + 1 + i) << e.ShortDebugString();
        EXPECT_EQ(e.event_id(), e.payment_id() + "/" + std::to_string(e.sequence()));
      } else {
        EXPECT_EQ(e.sequence(), 0u);
        EXPECT_TRUE(e.event_id().starts_with("cmd/")) << e.event_id();
      }
    }
    return events;
  }

  // Creates and confirms a payment; returns its id.
  std::string CreateConfirmed(std::string_view key, int64_t amount,
                              ty::PaymentMethod method = ty::PAYMENT_METHOD_CARD,
                              bool manual = false) {
    CreateOptions o;
    o.manual_capture = manual;
    const Events& events = Send(testing::Create(kSeedMerchant, key, amount, "USD", method, o));
    EXPECT_THAT(Types(events),
                ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted"));
    return CommandHarness::PaymentIdFor(kSeedMerchant, key);
  }

  // A payment whose plan completed with every step succeeding.
  std::string Authorized(std::string_view key, int64_t amount, bool manual,
                         ty::PaymentMethod method = ty::PAYMENT_METHOD_CARD) {
    const std::string pid = CreateConfirmed(key, amount, method, manual);
    for (int guard = 0; guard < 4 && !h_.PendingAttemptKey(pid).empty(); ++guard) {
      Send(testing::Succeeded(pid, h_.PendingAttemptKey(pid)));
    }
    EXPECT_EQ(state(pid).status,
              manual ? ev::PAYMENT_STATUS_REQUIRES_CAPTURE : ev::PAYMENT_STATUS_SUCCEEDED);
    return pid;
  }

  const PaymentState& state(const std::string& pid) { return h_.state(pid); }

  void ExpectRejected(const Events& events, ev::RejectReason reason,
                      std::string_view contract = "") {
    ASSERT_EQ(events.size(), 1u) << Types(events).size();
    ASSERT_TRUE(events[0].has_command_rejected()) << events[0].ShortDebugString();
    EXPECT_EQ(events[0].command_rejected().reason(), reason)
        << ev::RejectReason_Name(events[0].command_rejected().reason()) << ": "
        << events[0].command_rejected().detail();
    if (!contract.empty()) {
      EXPECT_EQ(events[0].command_rejected().contract_id(), contract);
    }
  }

  void ExpectDeduplicated(const Events& events) {
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(events[0].has_command_deduplicated()) << events[0].ShortDebugString();
  }

  CommandHarness h_;
};

// ---------------------------------------------------------------------------------------
// Authorization plans.

TEST_F(AggregateTest, HappyPathWithAutomaticCapture) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const E* started = OnlyOf(h_.last(), E::kStepStarted);
  ASSERT_NE(started, nullptr);
  const auto& op = started->step_started().op();
  EXPECT_EQ(op.kind(), ev::OPERATION_KIND_SALE);
  EXPECT_EQ(op.idempotency_key(), Key(pid, 0, 1));
  EXPECT_EQ(op.processor_id(), "cobranded");
  EXPECT_EQ(op.amount().amount_minor(), 10'000);
  EXPECT_EQ(op.amount().currency(), "USD");
  EXPECT_EQ(op.timeout_ms(), 1'500u);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_AUTHORIZING);

  const Events& done = Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  EXPECT_THAT(Types(done), ElementsAre("StepSucceeded", "PaymentCompleted"));
  const auto& completed = done[1].payment_completed();
  EXPECT_EQ(completed.status(), ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_TRUE(completed.result().success());
  EXPECT_EQ(completed.result().total_processed_minor(), 10'000);
  EXPECT_EQ(completed.result().remaining_minor(), 0);
  EXPECT_EQ(completed.result().currency(), "USD");
  ASSERT_EQ(completed.result().steps_size(), 1);
  EXPECT_EQ(completed.result().steps(0).processor_id(), "cobranded");

  EXPECT_THAT(Types(h_.history(pid)),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "StepSucceeded", "PaymentCompleted"));
  const PaymentState& s = state(pid);
  EXPECT_EQ(s.status, ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(s.processed, 10'000);
  EXPECT_EQ(s.captured, 10'000);
  EXPECT_THAT(s.pending, IsEmpty());
  EXPECT_EQ(s.sequence, 6u);
}

// Overload (runtime/admission.h): a new payment is refused with a reason and nothing
// starts; what was accepted before goes on; the same create is taken once there is room.
TEST_F(AggregateTest, OverloadRefusesNewPaymentsOnlyAndTheSameCreateIsTakenLater) {
  const std::string before = CreateConfirmed("order-before", 1'000);
  h_.set_overloaded(true);
  const cmd::CommandEnvelope create =
      testing::Create(kSeedMerchant, "order-new", 2'000, "USD", ty::PAYMENT_METHOD_CARD);
  ExpectRejected(Send(create), ev::REJECT_REASON_OVERLOADED, "overload/refused");
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-new");
  EXPECT_FALSE(state(pid).exists);
  // An accepted payment's repeated create is still a repeat, and its answers are decided.
  ExpectDeduplicated(
      Send(testing::Create(kSeedMerchant, "order-before", 1'000, "USD", ty::PAYMENT_METHOD_CARD)));
  EXPECT_THAT(Types(Send(testing::Succeeded(before, Key(before, 0, 1)))),
              ElementsAre("StepSucceeded", "PaymentCompleted"));
  h_.set_overloaded(false);
  EXPECT_THAT(Types(Send(create)),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted"));
}

// Issue 17: an idempotency key that is a card number is refused (keys are kept for good);
// numeric ids in keys are not card numbers.
TEST_F(AggregateTest, AnIdempotencyKeyThatIsACardNumberIsRefused) {
  for (const char* pan : {"4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444"}) {
    const Events& events =
        Send(testing::Create(kSeedMerchant, pan, 1'000, "USD", ty::PAYMENT_METHOD_CARD));
    ExpectRejected(events, ev::REJECT_REASON_CARD_NUMBER_IN_KEY, "request/malformed");
    EXPECT_EQ(events[0].command_rejected().detail().find("4111"), std::string::npos);
  }
  // A millisecond timestamp, an order number inside a key: taken.
  for (const char* key : {"1733360000000", "order-4111111111111111", "4111111111111112"}) {
    EXPECT_THAT(
        Types(Send(testing::Create(kSeedMerchant, key, 1'000, "USD", ty::PAYMENT_METHOD_CARD))),
        ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted"))
        << key;
  }
}

TEST_F(AggregateTest, CreateWithoutConfirmWaitsForConfirmation) {
  CreateOptions o;
  o.confirm = false;
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  EXPECT_THAT(Types(Send(testing::Create(kSeedMerchant, "order-1", 500, "USD",
                                         ty::PAYMENT_METHOD_CARD, o))),
              ElementsAre("PaymentCreated", "PlanBuilt"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CONFIRMATION);
  EXPECT_THAT(Types(Send(testing::Confirm(pid))), ElementsAre("PaymentConfirmed", "StepStarted"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_AUTHORIZING);
  ExpectRejected(Send(testing::Confirm(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, CreatedEventCarriesTheNormalisedRequestAndItsIssues) {
  CreateOptions o;
  o.metadata = {{"order_id", "o-1"}, {"note", "card 4111 1111 1111 1111"}};
  o.customer_reference = " cust-1 ";
  const Events& events =
      Send(testing::Create(" m_seed ", "order-1", 500, "usd", ty::PAYMENT_METHOD_CARD, o));
  const E* created = OnlyOf(events, E::kPaymentCreated);
  ASSERT_NE(created, nullptr);
  const auto& pc = created->payment_created();
  EXPECT_EQ(created->merchant_id(), "m_seed");
  EXPECT_EQ(pc.amount().currency(), "USD");
  EXPECT_EQ(pc.customer_reference(), "cust-1");
  EXPECT_EQ(pc.metadata().at("note"), "[REDACTED_PAN]");
  EXPECT_EQ(pc.metadata().at("order_id"), "o-1");
  std::vector<std::string> codes;
  for (const auto& i : pc.issues()) codes.push_back(i.code());
  EXPECT_THAT(codes,
              ::testing::UnorderedElementsAre("currency/normalized_case", "merchant_id/trimmed",
                                              "customer_reference/trimmed", "metadata/unknown_key",
                                              "metadata/pan_redacted"));
  EXPECT_EQ(created->payment_id(), CommandHarness::PaymentIdFor("m_seed", "order-1"));
}

TEST_F(AggregateTest, FallbackRunsWhenTheCoBrandedProcessorDeclines) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const Events& events = Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_DECLINED));
  EXPECT_THAT(Types(events), ElementsAre("StepFailed", "StepStarted"));
  EXPECT_FALSE(events[0].step_failed().will_retry());
  EXPECT_FALSE(events[0].step_failed().result().retryable());
  EXPECT_EQ(events[0].step_failed().result().error_code(), ty::ERROR_CODE_DECLINED);
  const auto& op = events[1].step_started().op();
  EXPECT_EQ(op.processor_id(), "stripe");
  EXPECT_EQ(op.idempotency_key(), Key(pid, 1, 1));
  EXPECT_EQ(op.amount().amount_minor(), 10'000);

  EXPECT_THAT(Types(Send(testing::Succeeded(pid, Key(pid, 1, 1)))),
              ElementsAre("StepSucceeded", "PaymentCompleted"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(state(pid).ledger[1].authorized, 10'000);
  EXPECT_EQ(state(pid).ledger[0].authorized, 0);
}

TEST_F(AggregateTest, FallbackIsNotInvokedWhenTheCoBrandedProcessorSucceeds) {
  const std::string pid = Authorized("order-1", 10'000, /*manual=*/false);
  for (const E* e : OfCase(h_.history(pid), E::kStepStarted)) {
    EXPECT_NE(e->step_started().op().processor_id(), "stripe");
  }
  EXPECT_EQ(CountOf(h_.history(pid), E::kStepStarted), 1u);
}

TEST_F(AggregateTest, ApplePayTakesItsPartAndTheCardPaysTheRemainder) {
  const std::string pid = CreateConfirmed("order-1", 15'000, ty::PAYMENT_METHOD_APPLE_PAY);
  const E* first = OnlyOf(h_.last(), E::kStepStarted);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->step_started().op().processor_id(), "applepay");
  EXPECT_EQ(first->step_started().op().method(), ty::PAYMENT_METHOD_APPLE_PAY);
  EXPECT_EQ(first->step_started().op().amount().amount_minor(), testing::kApplePayMax);

  // Apple Pay processes only part of what was asked.
  const Events& events = Send(testing::Succeeded(pid, Key(pid, 0, 1), 6'000));
  EXPECT_THAT(Types(events), ElementsAre("StepSucceeded", "StepStarted"));
  EXPECT_EQ(events[0].step_succeeded().result().amount_processed_minor(), 6'000);
  const auto& card = events[1].step_started().op();
  EXPECT_EQ(card.processor_id(), "stripe");
  EXPECT_EQ(card.method(), ty::PAYMENT_METHOD_CARD);
  EXPECT_EQ(card.amount().amount_minor(), 9'000);

  EXPECT_THAT(Types(Send(testing::Succeeded(pid, Key(pid, 1, 1)))),
              ElementsAre("StepSucceeded", "PaymentCompleted"));
  const PaymentState& s = state(pid);
  EXPECT_EQ(s.status, ev::PAYMENT_STATUS_SUCCEEDED);
  int64_t sum = 0;
  for (const auto& l : s.ledger) sum += l.authorized;
  EXPECT_EQ(sum, 15'000);
  EXPECT_EQ(s.processed, 15'000);
  int64_t from_events = 0;
  for (const E* e : OfCase(h_.history(pid), E::kStepSucceeded)) {
    from_events += e->step_succeeded().result().amount_processed_minor();
  }
  EXPECT_EQ(from_events, 15'000);
}

TEST_F(AggregateTest, GatewayNeverCountsMoreThanWasAsked) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const Events& events = Send(testing::Succeeded(pid, Key(pid, 0, 1), 20'000));
  ASSERT_TRUE(events[0].has_step_succeeded());
  EXPECT_EQ(events[0].step_succeeded().result().amount_processed_minor(), 10'000);
  EXPECT_EQ(state(pid).processed, 10'000);
}

TEST_F(AggregateTest, RetryableFailuresRetryTheStepUpToTheLimitThenMoveOn) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const ty::ErrorCode codes[] = {ty::ERROR_CODE_NETWORK_FAILURE,
                                 ty::ERROR_CODE_PROCESSOR_UNAVAILABLE,
                                 ty::ERROR_CODE_NETWORK_FAILURE};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const Events& events = Send(testing::Failed(pid, Key(pid, 0, attempt), codes[attempt - 1]));
    ASSERT_THAT(Types(events), ElementsAre("StepFailed", "StepStarted")) << attempt;
    const bool retry = attempt <= static_cast<int>(testing::kSeedMaxRetries);
    EXPECT_EQ(events[0].step_failed().will_retry(), retry) << attempt;
    EXPECT_TRUE(events[0].step_failed().result().retryable());
    const auto& next = events[1].step_started().op();
    EXPECT_EQ(next.idempotency_key(), retry ? Key(pid, 0, attempt + 1) : Key(pid, 1, 1));
    EXPECT_EQ(next.processor_id(), retry ? "cobranded" : "stripe");
  }
  // Attempt keys are "<payment_id>:s<step>:a<attempt>", in order.
  std::vector<std::string> keys;
  for (const E* e : OfCase(h_.history(pid), E::kStepStarted)) {
    keys.push_back(e->step_started().op().idempotency_key());
  }
  EXPECT_THAT(keys, ElementsAre(Key(pid, 0, 1), Key(pid, 0, 2), Key(pid, 0, 3), Key(pid, 1, 1)));
}

TEST_F(AggregateTest, NonRetryableFailuresMoveToTheNextStepWithoutRetry) {
  const ty::ErrorCode codes[] = {ty::ERROR_CODE_DECLINED, ty::ERROR_CODE_INVALID_CARD,
                                 ty::ERROR_CODE_UNKNOWN, ty::ERROR_CODE_UNSPECIFIED,
                                 static_cast<ty::ErrorCode>(99)};
  int n = 0;
  for (auto code : codes) {
    const std::string pid = CreateConfirmed("order-" + std::to_string(n++), 1'000);
    const Events& events = Send(testing::Failed(pid, Key(pid, 0, 1), code));
    ASSERT_THAT(Types(events), ElementsAre("StepFailed", "StepStarted")) << code;
    EXPECT_FALSE(events[0].step_failed().will_retry()) << code;
    EXPECT_EQ(events[1].step_started().op().idempotency_key(), Key(pid, 1, 1)) << code;
    if (!ty::ErrorCode_IsValid(code) || code == ty::ERROR_CODE_UNSPECIFIED) {
      EXPECT_EQ(events[0].step_failed().result().error_code(), ty::ERROR_CODE_UNKNOWN);
    }
  }
}

TEST_F(AggregateTest, HardDeclineStopsThePlan) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const Events& events = Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_HARD_DECLINE));
  EXPECT_THAT(Types(events), ElementsAre("StepFailed", "PaymentFailed"));
  EXPECT_EQ(events[1].payment_failed().reason(), "hard_decline");
  EXPECT_FALSE(events[1].payment_failed().result().success());
  EXPECT_EQ(events[1].payment_failed().result().final_error(), ty::ERROR_CODE_HARD_DECLINE);
  EXPECT_EQ(events[1].payment_failed().result().remaining_minor(), 10'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(CountOf(h_.history(pid), E::kStepStarted), 1u);
}

TEST_F(AggregateTest, AllStepsDecliningFailsThePlan) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_DECLINED));
  const Events& events = Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED));
  EXPECT_THAT(Types(events), ElementsAre("StepFailed", "PaymentFailed"));
  EXPECT_EQ(events[1].payment_failed().reason(), "plan_exhausted");
  EXPECT_EQ(events[1].payment_failed().result().steps_size(), 2);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
}

// Issue 20 item 2: a declined payment is confirmed again with another payment method.
TEST_F(AggregateTest, AFailedPaymentIsConfirmedAgainWithAnotherMethod) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_DECLINED));
  Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_TRUE(AwaitsPaymentMethod(state(pid).status, state(pid).processed));
  // A confirm without a method is refused, as before.
  ExpectRejected(Send(testing::Confirm(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  const Events& events = Send(testing::Confirm(pid, ty::PAYMENT_METHOD_APPLE_PAY));
  ASSERT_THAT(Types(events), ElementsAre("PlanBuilt", "PaymentConfirmed", "StepStarted"));
  const ev::PlanBuilt& pb = events[0].plan_built();
  EXPECT_EQ(pb.method(), ty::PAYMENT_METHOD_APPLE_PAY);
  EXPECT_EQ(pb.first_step(), 2u);
  ASSERT_EQ(pb.plan().steps_size(), 4);  // the card plan's two steps, then Apple Pay's two
  EXPECT_EQ(pb.plan().steps(0).processor_id(), "cobranded");
  EXPECT_EQ(pb.plan().steps(2).processor_id(), "applepay");
  const auto& op = events[2].step_started().op();
  EXPECT_EQ(op.step_index(), 2u);
  EXPECT_EQ(op.idempotency_key(), Key(pid, 2, 1));  // never a key used before
  EXPECT_EQ(op.amount().amount_minor(), 10'000);
  EXPECT_EQ(state(pid).method, ty::PAYMENT_METHOD_APPLE_PAY);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_AUTHORIZING);

  Send(testing::Succeeded(pid, Key(pid, 2, 1)));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(state(pid).processed, 10'000);
  ExpectRejected(Send(testing::Confirm(pid, ty::PAYMENT_METHOD_CARD)),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, AFailedPaymentAwaitingAMethodMayBeCanceled) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_HARD_DECLINE));
  const Events& events = Send(testing::Cancel(pid, "abandoned"));
  ASSERT_THAT(Types(events), ElementsAre("PaymentCanceled"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_CANCELED);
  ExpectRejected(Send(testing::Confirm(pid, ty::PAYMENT_METHOD_CARD)),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, AFailedPaymentThatProcessedPartOfItsAmountStaysFailed) {
  const std::string pid = CreateConfirmed("order-1", 15'000, ty::PAYMENT_METHOD_APPLE_PAY);
  Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_FALSE(AwaitsPaymentMethod(state(pid).status, state(pid).processed));
  ExpectRejected(Send(testing::Confirm(pid, ty::PAYMENT_METHOD_CARD)),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  ExpectRejected(Send(testing::Cancel(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, RetriesWithAnotherMethodAreBoundedAndWaitForCompensations) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  h_.Advance(testing::kSeedDeadlineMs + 1);
  Send(testing::Expire(pid, Key(pid, 0, 1)));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  // The expired attempt succeeds after all: its compensation void is in flight.
  Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  ASSERT_FALSE(state(pid).pending.empty());
  ExpectRejected(Send(testing::Confirm(pid, ty::PAYMENT_METHOD_CARD)),
                 ev::REJECT_REASON_OPERATION_IN_FLIGHT);
  h_.SucceedAll(pid, ev::OPERATION_KIND_VOID);
  ASSERT_TRUE(state(pid).pending.empty());

  // Each card plan has 2 steps: 1 step attempted, then 15 more plans fit in kMaxPlanSteps.
  size_t plans = 0;
  while (true) {
    const Events& events = Send(testing::Confirm(pid, ty::PAYMENT_METHOD_CARD));
    if (events[0].has_command_rejected()) {
      ExpectRejected(events, ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
      break;
    }
    ++plans;
    const uint32_t first = events[0].plan_built().first_step();
    Send(testing::Failed(pid, Key(pid, first, 1), ty::ERROR_CODE_HARD_DECLINE));
    ASSERT_LE(plans, kMaxPlanSteps);
  }
  EXPECT_EQ(plans, (kMaxPlanSteps - 2) / 2);
  EXPECT_EQ(state(pid).plan.steps.size(), kMaxPlanSteps);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
}

TEST_F(AggregateTest, PartialSuccessThenExhaustedPlanFailsAndVoidsWhatSucceeded) {
  const std::string pid = CreateConfirmed("order-1", 15'000, ty::PAYMENT_METHOD_APPLE_PAY);
  Send(testing::Succeeded(pid, Key(pid, 0, 1)));  // Apple Pay: 10,000
  const Events& events = Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED));
  EXPECT_THAT(Types(events), ElementsAre("StepFailed", "PaymentFailed", "VoidStarted"));
  EXPECT_EQ(events[1].payment_failed().reason(), "plan_exhausted_partial");
  EXPECT_EQ(events[1].payment_failed().result().total_processed_minor(), 10'000);
  EXPECT_EQ(events[1].payment_failed().result().remaining_minor(), 5'000);
  const auto& vs = events[2].void_started();
  EXPECT_TRUE(vs.compensation());
  EXPECT_EQ(vs.reason(), "plan_failed");
  EXPECT_EQ(vs.op().kind(), ev::OPERATION_KIND_VOID);
  EXPECT_EQ(vs.op().step_index(), 0u);
  EXPECT_EQ(vs.op().amount().amount_minor(), 10'000);
  EXPECT_EQ(vs.op().parent_id(), Key(pid, 0, 1));
  EXPECT_EQ(vs.op().target_reference(), "ref_" + Key(pid, 0, 1));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);

  const Events& voided = Send(testing::Succeeded(pid, vs.op().idempotency_key()));
  EXPECT_THAT(Types(voided), ElementsAre("PaymentVoided"));
  EXPECT_TRUE(voided[0].payment_voided().compensation());
  const PaymentState& s = state(pid);
  EXPECT_EQ(s.status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_TRUE(s.ledger[0].voided);
  EXPECT_EQ(s.reversed, 10'000);
  EXPECT_THAT(s.pending, IsEmpty());
  // A repeated answer for the void changes nothing.
  const Events& repeat = Send(testing::Succeeded(pid, vs.op().idempotency_key()));
  ExpectDeduplicated(repeat);
  EXPECT_FALSE(repeat[0].command_deduplicated().reconciler_answer());
  // The same answer from the reconciler is marked: its chase of the void is over.
  cmd::CommandEnvelope reconciled = testing::Succeeded(pid, vs.op().idempotency_key());
  reconciled.mutable_gateway_result()->set_source("reconcile");
  const Events& marked = Send(reconciled);
  ExpectDeduplicated(marked);
  EXPECT_TRUE(marked[0].command_deduplicated().reconciler_answer());
  EXPECT_EQ(EffectsOf(marked[0]).settled, vs.op().idempotency_key());
}

// Seed 003: IDR is settled in whole rupiah, for partial captures and refunds as for
// creates (CheckAmountPrecision, the one rule).
TEST_F(AggregateTest, IdrCapturesAndRefundsMustBeWholeRupiah) {
  CreateOptions o;
  o.manual_capture = true;
  const Events& created =
      Send(testing::Create(kSeedMerchant, "idr-1", 1'000'000, "IDR", ty::PAYMENT_METHOD_CARD, o));
  ASSERT_THAT(Types(created),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted"));
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "idr-1");
  Send(testing::Succeeded(pid, h_.PendingAttemptKey(pid)));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);

  ExpectRejected(Send(testing::Capture(pid, 250'050, "cap-sen")),
                 ev::REJECT_REASON_AMOUNT_PRECISION, "request/malformed");
  ASSERT_THAT(Types(Send(testing::Capture(pid, 250'000, "cap-1"))), ElementsAre("CaptureStarted"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).captured, 250'000);

  ExpectRejected(Send(testing::Refund(pid, 99, "ref-sen")), ev::REJECT_REASON_AMOUNT_PRECISION,
                 "request/malformed");
  EXPECT_THAT(Types(Send(testing::Refund(pid, 100, "ref-1"))), ElementsAre("RefundStarted"));
}

// ---------------------------------------------------------------------------------------
// Unknown outcomes: processing, reconciliation, deadline.

TEST_F(AggregateTest, TimeoutMovesThePaymentToProcessing) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const Events& events =
      Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown, ty::ERROR_CODE_TIMEOUT));
  EXPECT_THAT(Types(events), ElementsAre("PaymentProcessing"));
  EXPECT_EQ(events[0].payment_processing().deadline_at_ms(),
            events[0].occurred_at_ms() + testing::kSeedDeadlineMs);
  EXPECT_EQ(events[0].payment_processing().op().idempotency_key(), Key(pid, 0, 1));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_PROCESSING);
  EXPECT_EQ(h_.PendingAttemptKey(pid), Key(pid, 0, 1));
}

TEST_F(AggregateTest, NothingStartsWhileTheOutcomeIsUnknown) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  const PaymentState before = state(pid);
  // An open breaker's skip of a repeated dispatch: says nothing about the call that was made.
  cmd::CommandEnvelope skip =
      testing::Result(pid, Key(pid, 0, 1), Outcome::kFailed, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE);
  skip.mutable_gateway_result()->set_circuit_open(true);

  std::vector<cmd::CommandEnvelope> commands = {
      skip,
      testing::Confirm(pid),
      testing::Capture(pid, 0, "cap-1"),
      testing::Void(pid),
      testing::Refund(pid, 100, "ref-1"),
      testing::Cancel(pid),
      testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown),  // a repeated timeout
      testing::Succeeded(pid, Key(pid, 0, 2)),                  // an attempt never started
      testing::Expire(pid, Key(pid, 0, 1)),                     // before the deadline
  };
  for (const auto& c : commands) {
    const Events& events = Send(c);
    EXPECT_TRUE(testing::OnlyRejectionsOrDedups(events))
        << CommandTypeName(c) << ": " << events[0].ShortDebugString();
    EXPECT_EQ(CountOf(events, E::kStepStarted), 0u);
  }
  EXPECT_EQ(testing::DumpState(state(pid), false), testing::DumpState(before, false));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_PROCESSING);
}

TEST_F(AggregateTest, ReconciliationNotFoundRetriesTheStep) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  const Events& events = Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kNotFound));
  EXPECT_THAT(Types(events), ElementsAre("StepFailed", "StepStarted"));
  EXPECT_EQ(events[0].step_failed().result().error_code(), ty::ERROR_CODE_TIMEOUT);
  EXPECT_TRUE(events[0].step_failed().will_retry());
  EXPECT_EQ(events[1].step_started().op().idempotency_key(), Key(pid, 0, 2));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_AUTHORIZING);
}

TEST_F(AggregateTest, ReconciliationSuccessCompletesThePayment) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  EXPECT_THAT(Types(Send(testing::Succeeded(pid, Key(pid, 0, 1)))),
              ElementsAre("StepSucceeded", "PaymentCompleted"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
}

TEST_F(AggregateTest, ExpiryIsRejectedBeforeTheDeadlineAndFailsThePaymentAfterIt) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  const int64_t deadline = state(pid).deadline_at_ms;

  h_.Advance(testing::kSeedDeadlineMs - 1'000);
  ExpectRejected(Send(testing::Expire(pid, Key(pid, 0, 1))),
                 ev::REJECT_REASON_DEADLINE_NOT_REACHED);
  EXPECT_LT(h_.now_ms(), deadline);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_PROCESSING);

  h_.Advance(1'000);
  const Events& events = Send(testing::Expire(pid, Key(pid, 0, 1)));
  EXPECT_GE(events[0].occurred_at_ms(), deadline);
  EXPECT_THAT(Types(events), ElementsAre("ProcessingExpired", "PaymentFailed"));
  EXPECT_EQ(events[1].payment_failed().reason(), "processing_deadline");
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_THAT(state(pid).pending, IsEmpty());
  // The same expiry again changes nothing.
  ExpectDeduplicated(Send(testing::Expire(pid, Key(pid, 0, 1))));
}

TEST_F(AggregateTest, ExpiryOfAnAttemptThatIsNotProcessingIsRejected) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  h_.Advance(10 * testing::kSeedDeadlineMs);
  ExpectRejected(Send(testing::Expire(pid, Key(pid, 0, 1))),
                 ev::REJECT_REASON_OPERATION_NOT_PENDING);
  ExpectRejected(Send(testing::Expire(pid, "no-such-key")),
                 ev::REJECT_REASON_OPERATION_NOT_PENDING);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_AUTHORIZING);
}

TEST_F(AggregateTest, LateSuccessAfterExpiryIsVoidedAsCompensation) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  h_.Advance(testing::kSeedDeadlineMs);
  Send(testing::Expire(pid, Key(pid, 0, 1)));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);

  const Events& events = Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  EXPECT_THAT(Types(events), ElementsAre("VoidStarted"));
  const auto& vs = events[0].void_started();
  EXPECT_TRUE(vs.compensation());
  EXPECT_EQ(vs.reason(), "late_success");
  EXPECT_EQ(vs.op().parent_id(), Key(pid, 0, 1));
  EXPECT_EQ(vs.op().amount().amount_minor(), 10'000);
  EXPECT_EQ(vs.op().target_reference(), "ref_" + Key(pid, 0, 1));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);

  // The same late answer again does not start a second void.
  ExpectDeduplicated(Send(testing::Succeeded(pid, Key(pid, 0, 1))));

  const Events& voided = Send(testing::Succeeded(pid, vs.op().idempotency_key()));
  EXPECT_THAT(Types(voided), ElementsAre("PaymentVoided"));
  EXPECT_TRUE(voided[0].payment_voided().compensation());
  const PaymentState& s = state(pid);
  EXPECT_EQ(s.status, ev::PAYMENT_STATUS_FAILED);
  EXPECT_EQ(s.processed, 0);  // the late money was never counted
  EXPECT_EQ(s.reversed, 0);
  EXPECT_FALSE(s.ledger[0].voided);
}

TEST_F(AggregateTest, LateSuccessOfADeclinedAttemptAfterCompletionIsVoided) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Failed(pid, Key(pid, 0, 1), ty::ERROR_CODE_DECLINED));
  Send(testing::Succeeded(pid, Key(pid, 1, 1)));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  const Events& events = Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  EXPECT_THAT(Types(events), ElementsAre("VoidStarted"));
  EXPECT_EQ(events[0].void_started().op().step_index(), 0u);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  // A late failure of an attempt that succeeded repeats what we know.
  ExpectDeduplicated(Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED)));
}

// ---------------------------------------------------------------------------------------
// Manual capture.

TEST_F(AggregateTest, ManualCaptureAuthorizesThenCapturesInParts) {
  const std::string pid = CreateConfirmed("order-1", 10'000, ty::PAYMENT_METHOD_CARD, true);
  EXPECT_EQ(OnlyOf(h_.last(), E::kStepStarted)->step_started().op().kind(),
            ev::OPERATION_KIND_AUTHORIZE);
  const Events& done = Send(testing::Succeeded(pid, Key(pid, 0, 1)));
  EXPECT_THAT(Types(done), ElementsAre("StepSucceeded", "PaymentCompleted"));
  EXPECT_EQ(done[1].payment_completed().status(), ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(state(pid).captured, 0);

  const Events& c1 = Send(testing::Capture(pid, 3'000, "cap-1"));
  ASSERT_THAT(Types(c1), ElementsAre("CaptureStarted"));
  const auto& cs = c1[0].capture_started();
  EXPECT_EQ(cs.op().kind(), ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(cs.op().amount().amount_minor(), 3'000);
  EXPECT_EQ(cs.op().target_reference(), "ref_" + Key(pid, 0, 1));
  EXPECT_EQ(cs.op().idempotency_key(), cs.capture_id() + ":s0");
  EXPECT_EQ(cs.idempotency_key(), "cap-1");
  const Events& ok1 = Send(testing::Succeeded(pid, cs.op().idempotency_key()));
  ASSERT_THAT(Types(ok1), ElementsAre("PaymentCaptured"));
  EXPECT_EQ(ok1[0].payment_captured().total_captured_minor(), 3'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);

  Send(testing::Capture(pid, 4'000, "cap-2"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).captured, 7'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);

  ExpectRejected(Send(testing::Capture(pid, 3'001, "cap-3")),
                 ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED);

  // Amount 0 captures the rest; the payment succeeds.
  const Events& rest = Send(testing::Capture(pid, 0, "cap-4"));
  ASSERT_THAT(Types(rest), ElementsAre("CaptureStarted"));
  EXPECT_EQ(rest[0].capture_started().op().amount().amount_minor(), 3'000);
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).captured, 10'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  ExpectRejected(Send(testing::Capture(pid, 1, "cap-5")), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, CapturesAreIdempotentByKey) {
  const std::string pid = Authorized("order-1", 10'000, true);
  const Events& first = Send(testing::Capture(pid, 2'000, "cap-1"));
  const std::string capture_id = first[0].capture_started().capture_id();
  // While in flight: the same request deduplicates, a different one under the key is a
  // mismatch, and a new capture must wait.
  const Events& again = Send(testing::Capture(pid, 2'000, "cap-1"));
  ExpectDeduplicated(again);
  EXPECT_EQ(again[0].command_deduplicated().original_id(), capture_id);
  EXPECT_EQ(again[0].command_deduplicated().command_type(), "capture");
  ExpectRejected(Send(testing::Capture(pid, 2'001, "cap-1")),
                 ev::REJECT_REASON_IDEMPOTENCY_MISMATCH, "idempotency/mismatch");
  ExpectRejected(Send(testing::Capture(pid, 1'000, "cap-2")),
                 ev::REJECT_REASON_OPERATION_IN_FLIGHT);

  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  ExpectDeduplicated(Send(testing::Capture(pid, 2'000, "cap-1")));
  ExpectRejected(Send(testing::Capture(pid, 2'000, "cap-1", /*final=*/true)),
                 ev::REJECT_REASON_IDEMPOTENCY_MISMATCH, "idempotency/mismatch");
  EXPECT_EQ(state(pid).captured, 2'000);
}

TEST_F(AggregateTest, MalformedCapturesAreRejected) {
  const std::string pid = Authorized("order-1", 10'000, true);
  ExpectRejected(Send(testing::Capture(pid, 100, "")), ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING,
                 "request/malformed");
  ExpectRejected(Send(testing::Capture(pid, -1, "cap-1")), ev::REJECT_REASON_AMOUNT_NOT_POSITIVE,
                 "request/malformed");
  ExpectRejected(Send(testing::Capture(pid, 100, std::string(256, 'k'))),
                 ev::REJECT_REASON_FIELD_TOO_LONG);
  ExpectRejected(Send(testing::Capture(pid, 10'001, "cap-2")),
                 ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED);
  EXPECT_EQ(state(pid).captured, 0);
}

TEST_F(AggregateTest, CaptureOfAnAutomaticPaymentIsRejected) {
  const std::string pid = Authorized("order-1", 10'000, false);
  ExpectRejected(Send(testing::Capture(pid, 100, "cap-1")),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, FinalCaptureOfPartSucceedsThePayment) {
  const std::string pid = Authorized("order-1", 10'000, true);
  Send(testing::Capture(pid, 4'000, "cap-1", /*final=*/true));
  const Events events = h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_THAT(Types(events), ElementsAre("PaymentCaptured"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(state(pid).captured, 4'000);
}

TEST_F(AggregateTest, CaptureSpanningStepsStartsOnePartPerStep) {
  const std::string pid = Authorized("order-1", 15'000, true, ty::PAYMENT_METHOD_APPLE_PAY);
  const Events& events = Send(testing::Capture(pid, 12'000, "cap-1"));
  ASSERT_THAT(Types(events), ElementsAre("CaptureStarted", "CaptureStarted"));
  EXPECT_EQ(events[0].capture_started().op().amount().amount_minor(), 10'000);
  EXPECT_EQ(events[1].capture_started().op().amount().amount_minor(), 2'000);
  EXPECT_EQ(events[0].capture_started().capture_id(), events[1].capture_started().capture_id());
  EXPECT_NE(events[0].capture_started().op().idempotency_key(),
            events[1].capture_started().op().idempotency_key());
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).ledger[0].captured, 10'000);
  EXPECT_EQ(state(pid).ledger[1].captured, 2'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  Send(testing::Capture(pid, 0, "cap-2"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
}

TEST_F(AggregateTest, FailedCaptureLeavesThePaymentCapturable) {
  const std::string pid = Authorized("order-1", 10'000, true);
  const Events& started = Send(testing::Capture(pid, 10'000, "cap-1"));
  const std::string key = started[0].capture_started().op().idempotency_key();
  EXPECT_THAT(Types(Send(testing::Failed(pid, key, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE))),
              ElementsAre("CaptureFailed"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_EQ(state(pid).captured, 0);
  ExpectDeduplicated(Send(testing::Failed(pid, key, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE)));
  Send(testing::Capture(pid, 10'000, "cap-2"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
}

// A compensation void that fails is started again under a fresh key p:v<step>:n<n+1>, for
// the same money, target and reversed attempt, up to five voids per step.
TEST_F(AggregateTest, FailedCompensationVoidIsRetriedWithAFreshKeyUpToFiveTimes) {
  struct Case {
    const char* name;
    Outcome outcome;
    ty::ErrorCode code;
  };
  const Case cases[] = {
      {"declined", Outcome::kFailed, ty::ERROR_CODE_DECLINED},
      {"unavailable", Outcome::kFailed, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE},
      {"not found", Outcome::kNotFound, ty::ERROR_CODE_UNSPECIFIED},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string pid =
        CreateConfirmed("order-" + std::to_string(++n), 15'000, ty::PAYMENT_METHOD_APPLE_PAY);
    Send(testing::Succeeded(pid, Key(pid, 0, 1)));
    const Events& failed = Send(testing::Failed(pid, Key(pid, 1, 1), ty::ERROR_CODE_DECLINED));
    ASSERT_THAT(Types(failed), ElementsAre("StepFailed", "PaymentFailed", "VoidStarted"));
    std::string key = failed[2].void_started().op().idempotency_key();
    EXPECT_EQ(key, pid + ":v0:n1");
    for (int attempt = 2; attempt <= 5; ++attempt) {
      const Events& events = Send(testing::Result(pid, key, c.outcome, c.code));
      ASSERT_THAT(Types(events), ElementsAre("VoidFailed", "VoidStarted"));
      const auto& vs = events[1].void_started();
      EXPECT_EQ(vs.op().idempotency_key(), pid + ":v0:n" + std::to_string(attempt));
      EXPECT_TRUE(vs.compensation());
      EXPECT_EQ(vs.reason(), "plan_failed");
      EXPECT_EQ(vs.op().kind(), ev::OPERATION_KIND_VOID);
      EXPECT_EQ(vs.op().step_index(), 0u);
      EXPECT_EQ(vs.op().amount().amount_minor(), 10'000);
      EXPECT_EQ(vs.op().parent_id(), Key(pid, 0, 1));
      EXPECT_EQ(vs.op().target_reference(), "ref_" + Key(pid, 0, 1));
      EXPECT_EQ(vs.op().processor_id(), "applepay");
      key = vs.op().idempotency_key();
    }
    // The fifth void of the step fails: no sixth.
    EXPECT_THAT(Types(Send(testing::Result(pid, key, c.outcome, c.code))),
                ElementsAre("VoidFailed"));
    EXPECT_THAT(state(pid).pending, IsEmpty());
    EXPECT_EQ(state(pid).ledger[0].void_attempts, 5u);
    EXPECT_FALSE(state(pid).ledger[0].voided);
    EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  }
}

TEST_F(AggregateTest, FailedCompensationOfALateSuccessIsRetriedAndThenReversesIt) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  Send(testing::Result(pid, Key(pid, 0, 1), Outcome::kUnknown));
  h_.Advance(testing::kSeedDeadlineMs);
  Send(testing::Expire(pid, Key(pid, 0, 1)));
  const Events& late = Send(testing::Succeeded(pid, Key(pid, 0, 1), 6'000));
  ASSERT_THAT(Types(late), ElementsAre("VoidStarted"));
  const Events& retried = Send(testing::Failed(pid, late[0].void_started().op().idempotency_key(),
                                               ty::ERROR_CODE_NETWORK_FAILURE));
  ASSERT_THAT(Types(retried), ElementsAre("VoidFailed", "VoidStarted"));
  const auto& vs = retried[1].void_started();
  EXPECT_EQ(vs.op().idempotency_key(), pid + ":v0:n2");
  EXPECT_EQ(vs.reason(), "late_success");
  EXPECT_TRUE(vs.compensation());
  EXPECT_EQ(vs.op().amount().amount_minor(), 6'000);
  EXPECT_EQ(vs.op().parent_id(), Key(pid, 0, 1));
  const Events& voided = Send(testing::Succeeded(pid, vs.op().idempotency_key()));
  EXPECT_THAT(Types(voided), ElementsAre("PaymentVoided"));
  EXPECT_TRUE(voided[0].payment_voided().compensation());
  EXPECT_THAT(state(pid).pending, IsEmpty());
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_FAILED);
  // Answers for the failed void and the late success again change nothing.
  ExpectDeduplicated(Send(testing::Failed(pid, pid + ":v0:n1", ty::ERROR_CODE_DECLINED)));
  ExpectDeduplicated(Send(testing::Succeeded(pid, Key(pid, 0, 1))));
}

TEST_F(AggregateTest, FailedRequestedVoidIsNotRetried) {
  const std::string pid = Authorized("order-1", 10'000, true);
  const Events& events = Send(testing::Void(pid));
  ASSERT_THAT(Types(events), ElementsAre("VoidStarted"));
  EXPECT_EQ(events[0].void_started().op().idempotency_key(), pid + ":v0:n1");
  EXPECT_THAT(Types(Send(testing::Failed(pid, pid + ":v0:n1", ty::ERROR_CODE_DECLINED))),
              ElementsAre("VoidFailed"));
  EXPECT_THAT(state(pid).pending, IsEmpty());
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
}

// ---------------------------------------------------------------------------------------
// Void.

TEST_F(AggregateTest, VoidReleasesAnUncapturedAuthorization) {
  const std::string pid = Authorized("order-1", 10'000, true);
  const Events& events = Send(testing::Void(pid, "customer changed mind"));
  ASSERT_THAT(Types(events), ElementsAre("VoidStarted"));
  EXPECT_FALSE(events[0].void_started().compensation());
  EXPECT_EQ(events[0].void_started().reason(), "customer changed mind");
  EXPECT_EQ(events[0].void_started().op().target_reference(), "ref_" + Key(pid, 0, 1));
  const Events& done =
      Send(testing::Succeeded(pid, events[0].void_started().op().idempotency_key()));
  EXPECT_THAT(Types(done), ElementsAre("PaymentVoided"));
  EXPECT_FALSE(done[0].payment_voided().compensation());
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_VOIDED);
  ExpectRejected(Send(testing::Capture(pid, 0, "cap-1")), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  ExpectRejected(Send(testing::Void(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, VoidIsAllowedOnlyBeforeAnyCapture) {
  const std::string pid = Authorized("order-1", 10'000, true);
  Send(testing::Capture(pid, 1'000, "cap-1"));
  // In flight, and after it succeeded: no void.
  ExpectRejected(Send(testing::Void(pid)), ev::REJECT_REASON_OPERATION_IN_FLIGHT);
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  ExpectRejected(Send(testing::Void(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  const std::string automatic = Authorized("order-2", 10'000, false);
  ExpectRejected(Send(testing::Void(automatic)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  const std::string authorizing = CreateConfirmed("order-3", 10'000);
  ExpectRejected(Send(testing::Void(authorizing)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, VoidOfSeveralStepsEndsVoidedOnlyWhenEveryStepIsReleased) {
  const std::string pid = Authorized("order-1", 15'000, true, ty::PAYMENT_METHOD_APPLE_PAY);
  const Events& events = Send(testing::Void(pid));
  ASSERT_THAT(Types(events), ElementsAre("VoidStarted", "VoidStarted"));
  const std::string v0 = events[0].void_started().op().idempotency_key();
  const std::string v1 = events[1].void_started().op().idempotency_key();
  EXPECT_NE(v0, v1);

  // The void of step 0 fails, the void of step 1 succeeds: step 0 is still authorized,
  // so the payment is not VOIDED.
  EXPECT_THAT(Types(Send(testing::Failed(pid, v0, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE))),
              ElementsAre("VoidFailed"));
  EXPECT_THAT(Types(Send(testing::Succeeded(pid, v1))), ElementsAre("PaymentVoided"));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  EXPECT_FALSE(state(pid).ledger[0].voided);
  EXPECT_TRUE(state(pid).ledger[1].voided);

  // Voiding again releases what is left, under a new key.
  const Events& again = Send(testing::Void(pid));
  ASSERT_THAT(Types(again), ElementsAre("VoidStarted"));
  EXPECT_EQ(again[0].void_started().op().step_index(), 0u);
  EXPECT_NE(again[0].void_started().op().idempotency_key(), v0);
  Send(testing::Succeeded(pid, again[0].void_started().op().idempotency_key()));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_VOIDED);
}

TEST_F(AggregateTest, RemainingStepCanBeCapturedAfterTheOtherWasVoided) {
  const std::string pid = Authorized("order-1", 15'000, true, ty::PAYMENT_METHOD_APPLE_PAY);
  const Events& events = Send(testing::Void(pid));
  const std::string v0 = events[0].void_started().op().idempotency_key();
  const std::string v1 = events[1].void_started().op().idempotency_key();
  Send(testing::Succeeded(pid, v0));
  Send(testing::Failed(pid, v1, ty::ERROR_CODE_PROCESSOR_UNAVAILABLE));
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  // Only step 1 (5,000) is still authorized; capturing it all succeeds the payment.
  ExpectRejected(Send(testing::Capture(pid, 5'001, "cap-1")),
                 ev::REJECT_REASON_CAPTURE_EXCEEDS_AUTHORIZED);
  const Events& cap = Send(testing::Capture(pid, 0, "cap-2"));
  ASSERT_THAT(Types(cap), ElementsAre("CaptureStarted"));
  EXPECT_EQ(cap[0].capture_started().op().step_index(), 1u);
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
}

// ---------------------------------------------------------------------------------------
// Refunds.

TEST_F(AggregateTest, RefundsPartialAndMultipleUpToWhatWasCaptured) {
  const std::string pid = Authorized("order-1", 10'000, false);
  const Events& r1 = Send(testing::Refund(pid, 3'000, "ref-1"));
  ASSERT_THAT(Types(r1), ElementsAre("RefundStarted"));
  EXPECT_EQ(r1[0].refund_started().op().kind(), ev::OPERATION_KIND_REFUND);
  EXPECT_EQ(r1[0].refund_started().op().amount().amount_minor(), 3'000);
  EXPECT_EQ(r1[0].refund_started().op().target_reference(), "ref_" + Key(pid, 0, 1));
  const Events& ok = h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  ASSERT_THAT(Types(ok), ElementsAre("RefundSucceeded"));
  EXPECT_EQ(ok[0].refund_succeeded().total_refunded_minor(), 3'000);

  Send(testing::Refund(pid, 2'000, "ref-2"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  EXPECT_EQ(state(pid).refunded, 5'000);
  ExpectRejected(Send(testing::Refund(pid, 5'001, "ref-3")),
                 ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED);
  Send(testing::Refund(pid, 5'000, "ref-4"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  EXPECT_EQ(state(pid).refunded, 10'000);
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);
  ExpectRejected(Send(testing::Refund(pid, 1, "ref-5")), ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED);
}

TEST_F(AggregateTest, RefundsAreIdempotentByKey) {
  const std::string pid = Authorized("order-1", 10'000, false);
  const Events& first = Send(testing::Refund(pid, 1'000, "ref-1"));
  const std::string refund_id = first[0].refund_started().refund_id();
  const Events& again = Send(testing::Refund(pid, 1'000, "ref-1"));
  ExpectDeduplicated(again);
  EXPECT_EQ(again[0].command_deduplicated().original_id(), refund_id);
  ExpectRejected(Send(testing::Refund(pid, 999, "ref-1")), ev::REJECT_REASON_IDEMPOTENCY_MISMATCH,
                 "idempotency/mismatch");
  ExpectRejected(Send(testing::Refund(pid, 999, "ref-2")), ev::REJECT_REASON_OPERATION_IN_FLIGHT);
  h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  ExpectDeduplicated(Send(testing::Refund(pid, 1'000, "ref-1")));
  EXPECT_EQ(state(pid).refunded, 1'000);
}

TEST_F(AggregateTest, RefundNeedsCapturedMoney) {
  const std::string manual = Authorized("order-1", 10'000, true);
  ExpectRejected(Send(testing::Refund(manual, 100, "ref-1")),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  Send(testing::Capture(manual, 4'000, "cap-1"));
  h_.SucceedAll(manual, ev::OPERATION_KIND_CAPTURE);
  // A partly captured payment may refund what was captured.
  ExpectRejected(Send(testing::Refund(manual, 4'001, "ref-2")),
                 ev::REJECT_REASON_REFUND_EXCEEDS_CAPTURED);
  EXPECT_THAT(Types(Send(testing::Refund(manual, 4'000, "ref-3"))), ElementsAre("RefundStarted"));

  const std::string automatic = Authorized("order-2", 10'000, false);
  ExpectRejected(Send(testing::Refund(automatic, 0, "ref-1")),
                 ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "request/malformed");
  ExpectRejected(Send(testing::Refund(automatic, 10, "")),
                 ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING);
  const std::string failed = CreateConfirmed("order-3", 1'000);
  Send(testing::Failed(failed, Key(failed, 0, 1), ty::ERROR_CODE_HARD_DECLINE));
  ExpectRejected(Send(testing::Refund(failed, 10, "ref-1")),
                 ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, RefundSpanningStepsIsAllocatedInPlanOrder) {
  const std::string pid = Authorized("order-1", 15'000, false, ty::PAYMENT_METHOD_APPLE_PAY);
  const Events& events = Send(testing::Refund(pid, 12'000, "ref-1"));
  ASSERT_THAT(Types(events), ElementsAre("RefundStarted", "RefundStarted"));
  EXPECT_EQ(events[0].refund_started().op().step_index(), 0u);
  EXPECT_EQ(events[0].refund_started().op().amount().amount_minor(), 10'000);
  EXPECT_EQ(events[1].refund_started().op().step_index(), 1u);
  EXPECT_EQ(events[1].refund_started().op().amount().amount_minor(), 2'000);
  h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  EXPECT_EQ(state(pid).refunded, 12'000);
  EXPECT_EQ(state(pid).ledger[0].refunded, 10'000);
  EXPECT_EQ(state(pid).ledger[1].refunded, 2'000);
}

TEST_F(AggregateTest, FailedRefundRefundsNothing) {
  const std::string pid = Authorized("order-1", 10'000, false);
  const Events& started = Send(testing::Refund(pid, 1'000, "ref-1"));
  EXPECT_THAT(Types(Send(testing::Failed(pid, started[0].refund_started().op().idempotency_key(),
                                         ty::ERROR_CODE_DECLINED))),
              ElementsAre("RefundFailed"));
  EXPECT_EQ(state(pid).refunded, 0);
  EXPECT_THAT(state(pid).pending, IsEmpty());
}

// ---------------------------------------------------------------------------------------
// Cancel.

TEST_F(AggregateTest, CancelBeforeConfirmationEndsCanceled) {
  CreateOptions o;
  o.confirm = false;
  Send(testing::Create(kSeedMerchant, "order-1", 500, "USD", ty::PAYMENT_METHOD_CARD, o));
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  const Events& events = Send(testing::Cancel(pid, "  not needed  "));
  ASSERT_THAT(Types(events), ElementsAre("PaymentCanceled"));
  EXPECT_EQ(events[0].payment_canceled().reason(), "not needed");
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_CANCELED);
  ExpectRejected(Send(testing::Confirm(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  ExpectRejected(Send(testing::Cancel(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  const std::string confirmed = CreateConfirmed("order-2", 500);
  ExpectRejected(Send(testing::Cancel(confirmed)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
}

TEST_F(AggregateTest, CancelAfterAuthorizationVoidsItWithTheReason) {
  const std::string pid = Authorized("order-1", 10'000, true);
  const Events& events = Send(testing::Cancel(pid, " duplicate order "));
  ASSERT_THAT(Types(events), ElementsAre("VoidStarted"));
  EXPECT_FALSE(events[0].void_started().compensation());
  EXPECT_EQ(events[0].void_started().reason(), "duplicate order");
  EXPECT_EQ(events[0].void_started().op().amount().amount_minor(), 10'000);
  ExpectRejected(Send(testing::Cancel(pid)), ev::REJECT_REASON_OPERATION_IN_FLIGHT);
  Send(testing::Succeeded(pid, events[0].void_started().op().idempotency_key()));
  EXPECT_EQ(state(pid).status, ev::PAYMENT_STATUS_VOIDED);
  ExpectRejected(Send(testing::Cancel(pid)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);

  // Once anything is captured, a cancel is refused like a void.
  const std::string captured = Authorized("order-2", 10'000, true);
  Send(testing::Capture(captured, 1'000, "cap-1", /*final=*/false));
  h_.SucceedAll(captured, ev::OPERATION_KIND_CAPTURE);
  ExpectRejected(Send(testing::Cancel(captured)), ev::REJECT_REASON_TRANSITION_NOT_ALLOWED);
  EXPECT_EQ(state(captured).status, ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
}

TEST_F(AggregateTest, LongReasonsAreCutOnACharacterBoundary) {
  CreateOptions o;
  o.confirm = false;
  Send(testing::Create(kSeedMerchant, "order-1", 500, "USD", ty::PAYMENT_METHOD_CARD, o));
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  // 254 ASCII bytes then "é" (2 bytes): a cut at byte 255 would split the character.
  const Events& events = Send(testing::Cancel(pid, std::string(254, 'a') + "\xC3\xA9" + "tail"));
  ASSERT_THAT(Types(events), ElementsAre("PaymentCanceled"));
  EXPECT_EQ(events[0].payment_canceled().reason(), std::string(254, 'a'));
}

// ---------------------------------------------------------------------------------------
// Duplicates and malformed commands.

TEST_F(AggregateTest, DuplicateCreateWithTheSameBodyIsDeduplicated) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const PaymentState before = state(pid);
  // Same request, written differently (case, whitespace): still the same request.
  const Events& events =
      Send(testing::Create(" m_seed", "order-1 ", 10'000, "usd", ty::PAYMENT_METHOD_CARD));
  ExpectDeduplicated(events);
  EXPECT_EQ(events[0].command_deduplicated().original_id(), pid);
  EXPECT_EQ(events[0].command_deduplicated().command_type(), "create");
  EXPECT_EQ(testing::DumpState(state(pid), false), testing::DumpState(before, false));
}

TEST_F(AggregateTest, DuplicateCreateWithADifferentBodyIsAnIdempotencyMismatch) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const PaymentState before = state(pid);
  const Events& events =
      Send(testing::Create(kSeedMerchant, "order-1", 10'001, "USD", ty::PAYMENT_METHOD_CARD));
  ExpectRejected(events, ev::REJECT_REASON_IDEMPOTENCY_MISMATCH, "idempotency/mismatch");
  EXPECT_EQ(events[0].command_rejected().command_type(), "create");
  EXPECT_EQ(events[0].payment_id(), pid);
  EXPECT_EQ(testing::DumpState(state(pid), false), testing::DumpState(before, false));
}

TEST_F(AggregateTest, CreateRejections) {
  struct Case {
    const char* name;
    cmd::CommandEnvelope command;
    ev::RejectReason reason;
    const char* contract;
  };
  auto with_pid = testing::Create(kSeedMerchant, "order-9", 100, "USD", ty::PAYMENT_METHOD_CARD);
  with_pid.set_payment_id("pay_not_derived");
  const Case cases[] = {
      {"unknown_merchant",
       testing::Create("m_nobody", "order-1", 100, "USD", ty::PAYMENT_METHOD_CARD),
       ev::REJECT_REASON_MERCHANT_UNKNOWN, ""},
      {"uncovered_amount",
       testing::Create(kCappedMerchant, "order-1", 5'001, "USD", ty::PAYMENT_METHOD_CARD),
       ev::REJECT_REASON_PLAN_COVERAGE, "plan/coverage"},
      {"uncovered_method",
       testing::Create(kCappedMerchant, "order-2", 100, "USD", ty::PAYMENT_METHOD_APPLE_PAY),
       ev::REJECT_REASON_PLAN_COVERAGE, "plan/coverage"},
      {"zero_amount", testing::Create(kSeedMerchant, "order-3", 0, "USD", ty::PAYMENT_METHOD_CARD),
       ev::REJECT_REASON_AMOUNT_NOT_POSITIVE, "request/malformed"},
      {"unknown_currency",
       testing::Create(kSeedMerchant, "order-4", 100, "XYZ", ty::PAYMENT_METHOD_CARD),
       ev::REJECT_REASON_CURRENCY_UNKNOWN, "request/malformed"},
      {"currency_not_accepted",
       testing::Create(testing::kLimitedMerchant, "order-5", 100, "GBP", ty::PAYMENT_METHOD_CARD),
       ev::REJECT_REASON_CURRENCY_NOT_ACCEPTED, ""},
      {"payment_id_not_derived", with_pid, ev::REJECT_REASON_PAYMENT_ID_MISMATCH,
       "request/malformed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Events& events = Send(c.command);
    ExpectRejected(events, c.reason, c.contract);
    EXPECT_EQ(events[0].command_rejected().command_type(), "create");
    const std::string pid = TargetPaymentId(c.command);
    EXPECT_FALSE(h_.state(pid).exists);
  }
}

TEST_F(AggregateTest, RejectedCreateCanBeRetriedWithACorrectedBody) {
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  ExpectRejected(
      Send(testing::Create(kSeedMerchant, "order-1", 100, "XYZ", ty::PAYMENT_METHOD_CARD)),
      ev::REJECT_REASON_CURRENCY_UNKNOWN);
  const Events& events =
      Send(testing::Create(kSeedMerchant, "order-1", 100, "USD", ty::PAYMENT_METHOD_CARD));
  EXPECT_EQ(events[0].event_case(), E::kPaymentCreated);
  EXPECT_EQ(events[0].sequence(), 2u);  // the rejection is part of the payment's history
  EXPECT_TRUE(state(pid).exists);
}

TEST_F(AggregateTest, CommandsForAnUnknownPaymentAreRejected) {
  const Events& events = Send(testing::Confirm("pay_nope"));
  ExpectRejected(events, ev::REJECT_REASON_PAYMENT_UNKNOWN);
  EXPECT_EQ(events[0].payment_id(), "pay_nope");
  EXPECT_EQ(events[0].command_rejected().command_type(), "confirm");
  EXPECT_FALSE(state("pay_nope").exists);

  const Events& no_id = Send(testing::Capture("", 1, "cap-1"));
  ExpectRejected(no_id, ev::REJECT_REASON_PAYMENT_UNKNOWN, "request/malformed");
  EXPECT_TRUE(no_id[0].payment_id().empty());
}

TEST_F(AggregateTest, UnsupportedSchemaVersionIsRejected) {
  for (uint32_t version : {0u, 2u, 99u}) {
    auto c = testing::Create(kSeedMerchant, "order-1", 100, "USD", ty::PAYMENT_METHOD_CARD);
    c.set_schema_version(version);
    const Events& events = Send(c);
    ExpectRejected(events, ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED, "request/malformed");
    EXPECT_EQ(events[0].merchant_id(), "m_seed");
  }
  EXPECT_FALSE(state(CommandHarness::PaymentIdFor(kSeedMerchant, "order-1")).exists);
}

TEST_F(AggregateTest, EmptyEnvelopeIsRejected) {
  cmd::CommandEnvelope empty;
  empty.set_schema_version(1);
  const Events& events = Send(empty);
  ExpectRejected(events, ev::REJECT_REASON_COMMAND_MISSING, "request/malformed");
  EXPECT_EQ(events[0].command_rejected().command_type(), "empty");
  EXPECT_EQ(events[0].event_id(), "cmd/3/100/0");

  cmd::CommandEnvelope nothing;  // not even a schema version
  ExpectRejected(Send(nothing), ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED);

  cmd::CommandEnvelope for_payment = testing::Envelope("pay_x");
  ExpectRejected(Send(for_payment), ev::REJECT_REASON_COMMAND_MISSING);
}

TEST_F(AggregateTest, OverlongPaymentIdIsRejected) {
  ExpectRejected(Send(testing::Confirm(std::string(65, 'p'))), ev::REJECT_REASON_FIELD_TOO_LONG,
                 "request/malformed");
}

TEST_F(AggregateTest, MalformedGatewayResultsAreRejected) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  const PaymentState before = state(pid);
  auto unspecified = testing::Succeeded(pid, Key(pid, 0, 1));
  unspecified.mutable_gateway_result()->set_outcome(cmd::GATEWAY_OUTCOME_UNSPECIFIED);
  ExpectRejected(Send(unspecified), ev::REJECT_REASON_OUTCOME_MISSING, "request/malformed");
  auto bogus = testing::Succeeded(pid, Key(pid, 0, 1));
  bogus.mutable_gateway_result()->set_outcome(static_cast<cmd::GatewayOutcome>(99));
  ExpectRejected(Send(bogus), ev::REJECT_REASON_OUTCOME_MISSING, "request/malformed");
  ExpectRejected(Send(testing::Succeeded(pid, "no-such-op")), ev::REJECT_REASON_OPERATION_UNKNOWN);
  ExpectRejected(Send(testing::Succeeded(pid, Key(pid, 0, 2))),
                 ev::REJECT_REASON_OPERATION_UNKNOWN);
  EXPECT_EQ(testing::DumpState(state(pid), false), testing::DumpState(before, false));
  EXPECT_EQ(state(pid).sequence, before.sequence + 4);
}

// ---------------------------------------------------------------------------------------
// The sender's merchant (CommandEnvelope.merchant_id, issue 17): one guard for every
// command, checked before the command looks at the payment.

cmd::CommandEnvelope From(std::string_view merchant, cmd::CommandEnvelope c) {
  c.set_merchant_id(std::string(merchant));
  return c;
}

// Every follow-up naming another merchant is refused and changes nothing, whatever the
// command and whatever it would have done (even a capture that would de-duplicate).
TEST_F(AggregateTest, AFollowUpNamingAnotherMerchantIsRejectedAndChangesNothing) {
  const std::string pid = Authorized("order-mm", 10'000, true);
  const Events& started = Send(From(kSeedMerchant, testing::Capture(pid, 2'000, "cap-1")));
  ASSERT_THAT(Types(started), ElementsAre("CaptureStarted"));
  const std::string capture_key = started[0].capture_started().op().idempotency_key();
  const std::string before = testing::DumpState(state(pid), /*with_sequence=*/false);
  const std::vector<cmd::CommandEnvelope> follow_ups = {
      testing::Confirm(pid),
      testing::Capture(pid, 2'000, "cap-1"),  // the same capture again: would de-duplicate
      testing::Capture(pid, 1'000, "cap-2"),
      testing::Void(pid),
      testing::Refund(pid, 500, "ref-1"),
      testing::Cancel(pid),
      testing::Succeeded(pid, capture_key),
      testing::Expire(pid, capture_key),
  };
  for (const auto& c : follow_ups) {
    SCOPED_TRACE(CommandTypeName(c));
    const Events& events = Send(From(testing::kLimitedMerchant, c));
    ExpectRejected(events, ev::REJECT_REASON_MERCHANT_MISMATCH, "request/malformed");
    EXPECT_EQ(events[0].command_rejected().command_type(), CommandTypeName(c));
    EXPECT_EQ(events[0].merchant_id(), kSeedMerchant) << "the event is the payment's";
    EXPECT_EQ(testing::DumpState(state(pid), false), before);
  }
  // Trimmed like CreatePayment.merchant_id, and bounded like it.
  ExpectRejected(Send(From(" m_limited ", testing::Void(pid))),
                 ev::REJECT_REASON_MERCHANT_MISMATCH);
  ExpectRejected(Send(From(std::string(65, 'm'), testing::Void(pid))),
                 ev::REJECT_REASON_FIELD_TOO_LONG, "request/malformed");
  EXPECT_EQ(testing::DumpState(state(pid), false), before);
}

// The payment's own merchant, trimmed or not, and no merchant at all (senders from before
// the field) are accepted: the guard refuses a mismatch only.
TEST_F(AggregateTest, AFollowUpNamingThePaymentsMerchantOrNoneIsDecided) {
  const std::string pid = Authorized("order-mm", 10'000, true);
  ASSERT_THAT(Types(Send(From(kSeedMerchant, testing::Capture(pid, 2'000, "cap-1")))),
              ElementsAre("CaptureStarted"));
  ExpectDeduplicated(Send(From(" m_seed\t", testing::Capture(pid, 2'000, "cap-1"))));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  ASSERT_THAT(Types(Send(testing::Capture(pid, 3'000, "cap-2"))), ElementsAre("CaptureStarted"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(state(pid).captured, 5'000);
  ASSERT_THAT(Types(Send(From(kSeedMerchant, testing::Refund(pid, 1'000, "ref-1")))),
              ElementsAre("RefundStarted"));

  const std::string unconfirmed = CommandHarness::PaymentIdFor(kSeedMerchant, "order-mm-2");
  CreateOptions later;
  later.confirm = false;
  Send(testing::Create(kSeedMerchant, "order-mm-2", 1'000, "USD", ty::PAYMENT_METHOD_CARD, later));
  ASSERT_THAT(Types(Send(From(kSeedMerchant, testing::Cancel(unconfirmed)))),
              ElementsAre("PaymentCanceled"));
}

// On a create the envelope's merchant must be the one the create names.
TEST_F(AggregateTest, ACreateWhoseEnvelopeNamesAnotherMerchantIsRejected) {
  const auto create =
      testing::Create(kSeedMerchant, "order-mm", 1'000, "USD", ty::PAYMENT_METHOD_CARD);
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-mm");
  ExpectRejected(Send(From(testing::kLimitedMerchant, create)),
                 ev::REJECT_REASON_MERCHANT_MISMATCH);
  EXPECT_FALSE(state(pid).exists);
  EXPECT_THAT(Types(Send(From(kSeedMerchant, create))),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted"));
}

// ---------------------------------------------------------------------------------------
// Envelopes, sequences, replay.

TEST_F(AggregateTest, EventsCarryTheirCausationAndTheCommandsTime) {
  auto create = testing::Create(kSeedMerchant, "order-1", 100, "USD", ty::PAYMENT_METHOD_CARD);
  create.set_command_id("cmd-42");
  create.set_correlation_id("corr-7");
  const Events& events = Send(create);
  ASSERT_EQ(events.size(), 4u);
  const std::string pid = CommandHarness::PaymentIdFor(kSeedMerchant, "order-1");
  for (uint32_t i = 0; i < events.size(); ++i) {
    const E& e = events[i];
    EXPECT_EQ(e.causation().topic(), "payments.commands");
    EXPECT_EQ(e.causation().partition(), 3);
    EXPECT_EQ(e.causation().offset(), 100);
    EXPECT_EQ(e.causation().command_id(), "cmd-42");
    EXPECT_EQ(e.causation().index(), i);
    EXPECT_EQ(e.causation().count(), 4u);
    EXPECT_EQ(e.correlation_id(), "corr-7");
    EXPECT_EQ(e.occurred_at_ms(), h_.now_ms());
    EXPECT_EQ(e.merchant_id(), "m_seed");
    EXPECT_EQ(e.payment_id(), pid);
    EXPECT_EQ(e.sequence(), i + 1);
    EXPECT_EQ(e.event_id(), pid + "/" + std::to_string(i + 1));
  }
}

TEST_F(AggregateTest, SequencesAreGapFreeAndFoldingTheHistoryReproducesTheState) {
  const std::string pid = Authorized("order-1", 15'000, true, ty::PAYMENT_METHOD_APPLE_PAY);
  Send(testing::Capture(pid, 11'000, "cap-1"));
  Send(testing::Capture(pid, 11'000, "cap-1"));  // dedup
  Send(testing::Refund(pid, 1, "ref-0"));        // in flight
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  Send(testing::Refund(pid, 5'000, "ref-1"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_REFUND);
  Send(testing::Capture(pid, 0, "cap-2"));
  h_.SucceedAll(pid, ev::OPERATION_KIND_CAPTURE);
  ASSERT_EQ(state(pid).status, ev::PAYMENT_STATUS_SUCCEEDED);

  const Events& history = h_.history(pid);
  PaymentState folded;
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(history[i].sequence(), i + 1);
    EXPECT_EQ(history[i].event_id(), pid + "/" + std::to_string(i + 1));
    Evolve(folded, history[i]);
  }
  EXPECT_EQ(testing::DumpState(folded), testing::DumpState(state(pid)));
}

TEST_F(AggregateTest, DecideIsPureAndAgreesWithDecideAndApply) {
  const std::string pid = CreateConfirmed("order-1", 15'000, ty::PAYMENT_METHOD_APPLE_PAY);
  const PaymentState before = state(pid);
  const auto command = testing::Succeeded(pid, Key(pid, 0, 1));
  CommandRecord rec{&command, "payments.commands", 3, 555, 1'700'000'000'000};
  const Events pure = Decide(before, rec, h_.ctx());
  EXPECT_EQ(testing::DumpState(before), testing::DumpState(state(pid)));

  PaymentState applied = before;
  Events out;
  DecideAndApply(applied, rec, h_.ctx(), out);
  EXPECT_EQ(testing::DeterministicBytes(pure), testing::DeterministicBytes(out));
  PaymentState folded = before;
  for (const auto& e : out) Evolve(folded, e);
  EXPECT_EQ(testing::DumpState(folded), testing::DumpState(applied));
}

TEST_F(AggregateTest, EvolveIgnoresEventsOfOtherPaymentsAndWriterClaims) {
  const std::string pid = CreateConfirmed("order-1", 10'000);
  PaymentState s = state(pid);
  const std::string dump = testing::DumpState(s);
  E other = h_.history(pid)[0];
  other.set_payment_id("pay_other");
  Evolve(s, other);
  E claim;
  claim.mutable_writer_claimed()->set_epoch(9);
  Evolve(s, claim);
  EXPECT_EQ(testing::DumpState(s), dump);
}

TEST_F(AggregateTest, IsRetryableMatchesTheErrorCodeContract) {
  for (int v = ty::ErrorCode_MIN; v <= ty::ErrorCode_MAX; ++v) {
    const auto code = static_cast<ty::ErrorCode>(v);
    const bool expected = code == ty::ERROR_CODE_TIMEOUT ||
                          code == ty::ERROR_CODE_NETWORK_FAILURE ||
                          code == ty::ERROR_CODE_PROCESSOR_UNAVAILABLE;
    EXPECT_EQ(IsRetryable(code), expected) << ty::ErrorCode_Name(code);
  }
}

}  // namespace
}  // namespace payorch::command
