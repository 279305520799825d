// End-to-end behaviour of payorch on the embedded broker: commands in, the writers and the
// connectors in one process, scripted processors, events out. Each test names the
// behaviour it pins, and ends with the checker over the whole log and the gateways'
// ledgers (StopAndCheck).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "command/invariants.h"
#include "log/partitioner.h"
#include "payments/contracts/v1/contracts.pb.h"
#include "support/e2e/harness.h"

namespace payorch::testing::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kCardMerchant[] = "m_card";    // primary, then fallback
constexpr char kSplitMerchant[] = "m_split";  // primary, then split for the remainder
constexpr char kPrimary[] = "psp_primary";
constexpr char kFallback[] = "psp_fallback";
constexpr char kPartial[] = "psp_partial";
constexpr char kRest[] = "psp_rest";

cfg::OrchestratorConfig TestConfig() {
  cfg::OrchestratorConfig config;
  config.set_schema_version(1);
  cfg::MerchantConfig* card = config.add_merchants();
  card->set_merchant_id(kCardMerchant);
  card->set_max_retries_per_step(2);
  card->set_attempt_timeout_ms(2'000);
  card->set_processing_deadline_ms(30'000);
  card->set_deadline_policy(cfg::DEADLINE_POLICY_FAIL);
  cfg::RoutingProfile* p = card->add_profiles();
  p->set_name("card");
  p->set_method(ty::PAYMENT_METHOD_CARD);
  AddStep(p, ty::PAYMENT_METHOD_CARD, kPrimary, 0, pl::STEP_ROLE_PRIMARY);
  AddStep(p, ty::PAYMENT_METHOD_CARD, kFallback, 0, pl::STEP_ROLE_FALLBACK);

  cfg::MerchantConfig* split = config.add_merchants();
  split->set_merchant_id(kSplitMerchant);
  cfg::RoutingProfile* s = split->add_profiles();
  s->set_name("split");
  s->set_method(ty::PAYMENT_METHOD_CARD);
  AddStep(s, ty::PAYMENT_METHOD_CARD, kPartial, 0, pl::STEP_ROLE_PRIMARY);
  AddStep(s, ty::PAYMENT_METHOD_CARD, kRest, 0, pl::STEP_ROLE_SPLIT);
  return config;
}

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    HarnessOptions o;
    o.config = TestConfig();
    o.scripted_processors = {kPrimary, kFallback, kPartial, kRest};
    h_ = std::make_unique<E2eHarness>(std::move(o));
    ASSERT_EQ(h_->Start(), "");
  }

  // Publishes a create and returns its payment id.
  std::string Send(const cmd::CommandEnvelope& command) {
    EXPECT_EQ(h_->Publish(command), "");
    return PaymentIdOf(command);
  }

  ScriptedGateway& gw(const std::string& id) { return h_->gateway(id); }

  std::unique_ptr<E2eHarness> h_;
};

// The gateway calls made for one payment, in call order.
std::vector<connectors::GatewayRequest> CallsOf(const ScriptedGateway& g, const std::string& pid) {
  std::vector<connectors::GatewayRequest> out;
  for (const auto& c : g.Calls()) {
    if (c.payment_id == pid) out.push_back(c);
  }
  return out;
}

// The processor reference the gateway gave the success under `key`.
std::string ReferenceOf(const ScriptedGateway& g, const std::string& key) {
  for (const auto& e : g.Ledger()) {
    if (e.idempotency_key == key) return e.processor_reference;
  }
  return "<no success under " + key + ">";
}

int64_t ProcessedBySteps(const Events& events) {
  int64_t sum = 0;
  for (const auto& e : events) {
    if (e.has_step_succeeded()) sum += e.step_succeeded().result().amount_processed_minor();
  }
  return sum;
}

TEST_F(EndToEnd, HappyPathCompletesWithOneGatewayCallUnderTheFirstAttemptKey) {
  const std::string pid = Send(Create(kCardMerchant, "order-happy", 12'345));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));

  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events), ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed",
                                           "StepStarted", "StepSucceeded", "PaymentCompleted"));
  const auto* done = Find(events, ev::EventEnvelope::kPaymentCompleted);
  EXPECT_EQ(done->payment_completed().status(), ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(done->payment_completed().result().total_processed_minor(), 12'345);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), i + 1);

  EXPECT_THAT(gw(kPrimary).CallKeys(), ElementsAre(AttemptKey(pid, 0, 1)));
  const auto call = gw(kPrimary).Calls().at(0);
  EXPECT_EQ(call.kind, ev::OPERATION_KIND_SALE);
  EXPECT_EQ(call.amount_minor, 12'345);
  EXPECT_EQ(call.currency, "USD");
  EXPECT_THAT(gw(kFallback).Calls(), IsEmpty());
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, FallbackIsCalledOnlyWhenThePrimaryDeclines) {
  const auto declined = Create(kCardMerchant, "order-declined", 5'000);
  gw(kPrimary).OnKey(AttemptKey(PaymentIdOf(declined), 0, 1), {Decline()});
  const std::string pid = Send(declined);
  const std::string ok_pid = Send(Create(kCardMerchant, "order-accepted", 5'100));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  ASSERT_TRUE(h_->WaitForEvent(ok_pid, ev::EventEnvelope::kPaymentCompleted));

  // Declined by the primary: the fallback takes the whole amount.
  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "StepFailed", "StepStarted", "StepSucceeded", "PaymentCompleted"));
  const auto* failed = Find(events, ev::EventEnvelope::kStepFailed);
  EXPECT_EQ(failed->step_failed().result().error_code(), ty::ERROR_CODE_DECLINED);
  EXPECT_FALSE(failed->step_failed().will_retry());
  EXPECT_EQ(Find(events, ev::EventEnvelope::kPaymentCompleted)->payment_completed().status(),
            ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_THAT(gw(kFallback).CallKeys(), ElementsAre(AttemptKey(pid, 1, 1)));
  EXPECT_EQ(gw(kFallback).Calls().at(0).amount_minor, 5'000);

  // Accepted by the primary: the fallback is never called for it.
  EXPECT_THAT(TypesOf(h_->EventsOf(ok_pid)),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "StepSucceeded", "PaymentCompleted"));
  EXPECT_THAT(gw(kPrimary).CallKeys(),
              ::testing::UnorderedElementsAre(AttemptKey(pid, 0, 1), AttemptKey(ok_pid, 0, 1)));
  EXPECT_EQ(gw(kFallback).Calls().size(), 1u);
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, PartialSuccessSendsTheRemainderToTheSplitStep) {
  const auto create = Create(kSplitMerchant, "order-split", 10'000);
  gw(kPartial).OnKey(AttemptKey(PaymentIdOf(create), 0, 1), {Succeed(3'000)});
  const std::string pid = Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));

  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "StepSucceeded", "StepStarted", "StepSucceeded", "PaymentCompleted"));
  const auto* first = Find(events, ev::EventEnvelope::kStepSucceeded, 0);
  const auto* second = Find(events, ev::EventEnvelope::kStepSucceeded, 1);
  EXPECT_EQ(first->step_succeeded().result().amount_processed_minor(), 3'000);
  EXPECT_EQ(second->step_succeeded().op().step_index(), 1u);
  EXPECT_EQ(second->step_succeeded().result().amount_processed_minor(), 7'000);
  EXPECT_EQ(ProcessedBySteps(events), 10'000);
  const auto* done = Find(events, ev::EventEnvelope::kPaymentCompleted);
  EXPECT_EQ(done->payment_completed().status(), ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_EQ(done->payment_completed().result().total_processed_minor(), 10'000);

  ASSERT_EQ(gw(kPartial).Calls().size(), 1u);
  EXPECT_EQ(gw(kPartial).Calls()[0].amount_minor, 10'000);
  EXPECT_THAT(gw(kRest).CallKeys(), ElementsAre(AttemptKey(pid, 1, 1)));
  EXPECT_EQ(gw(kRest).Calls()[0].amount_minor, 7'000);
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, NetworkFailuresAreRetriedOnTheSameStepUntilSuccess) {
  const auto create = Create(kCardMerchant, "order-retry", 4'200);
  const std::string id = PaymentIdOf(create);
  gw(kPrimary).OnKey(AttemptKey(id, 0, 1), {NetworkFailure()});
  gw(kPrimary).OnKey(AttemptKey(id, 0, 2), {NetworkFailure()});
  // Nothing is recorded under a key that failed that way: its seal finds nothing.
  gw(kPrimary).OnRetrieve(AttemptKey(id, 0, 1), {NotFound()});
  gw(kPrimary).OnRetrieve(AttemptKey(id, 0, 2), {NotFound()});
  const std::string pid = Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));

  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events), ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed",
                                           "StepStarted", "StepFailed", "StepStarted", "StepFailed",
                                           "StepStarted", "StepSucceeded", "PaymentCompleted"));
  for (int i = 0; i < 2; ++i) {
    const auto* f = Find(events, ev::EventEnvelope::kStepFailed, i);
    EXPECT_EQ(f->step_failed().result().error_code(), ty::ERROR_CODE_NETWORK_FAILURE);
    EXPECT_TRUE(f->step_failed().will_retry());
    EXPECT_EQ(f->step_failed().op().step_index(), 0u);
  }
  EXPECT_EQ(Find(events, ev::EventEnvelope::kStepSucceeded)->step_succeeded().op().attempt(), 3u);
  EXPECT_THAT(gw(kPrimary).CallKeys(),
              ElementsAre(AttemptKey(pid, 0, 1), AttemptKey(pid, 0, 2), AttemptKey(pid, 0, 3)));
  // Each failure was answered only after its key was sealed.
  EXPECT_THAT(gw(kPrimary).Retrieves(), ElementsAre(AttemptKey(pid, 0, 1), AttemptKey(pid, 0, 2)));
  EXPECT_THAT(gw(kFallback).Calls(), IsEmpty());
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, UnknownOutcomeIsReconciledToSuccessWithoutAnotherAttempt) {
  const auto create = Create(kCardMerchant, "order-timeout-ok", 7'700);
  const std::string key = AttemptKey(PaymentIdOf(create), 0, 1);
  gw(kPrimary).OnKey(key, {Timeout()});
  gw(kPrimary).OnRetrieve(key, {Succeed()});
  const std::string pid = Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));

  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "PaymentProcessing", "StepSucceeded", "PaymentCompleted"));
  EXPECT_EQ(Find(events, ev::EventEnvelope::kPaymentProcessing)
                ->payment_processing()
                .op()
                .idempotency_key(),
            key);
  EXPECT_EQ(Find(events, ev::EventEnvelope::kPaymentCompleted)->payment_completed().status(),
            ev::PAYMENT_STATUS_SUCCEEDED);
  EXPECT_THAT(gw(kPrimary).CallKeys(), ElementsAre(key));  // no second attempt, no double charge
  EXPECT_THAT(gw(kPrimary).Retrieves(), ::testing::Contains(key));
  EXPECT_EQ(gw(kPrimary).Ledger().size(), 1u);
  EXPECT_THAT(gw(kFallback).Calls(), IsEmpty());
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, UnknownOutcomeFoundNeverToHaveHappenedIsRetriedUnderTheNextAttempt) {
  const auto create = Create(kCardMerchant, "order-timeout-lost", 8'800);
  const std::string key = AttemptKey(PaymentIdOf(create), 0, 1);
  gw(kPrimary).OnKey(key, {Timeout()});
  gw(kPrimary).OnRetrieve(key, {NotFound()});
  const std::string pid = Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));

  const Events events = h_->EventsOf(pid);
  EXPECT_THAT(TypesOf(events), ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed",
                                           "StepStarted", "PaymentProcessing", "StepFailed",
                                           "StepStarted", "StepSucceeded", "PaymentCompleted"));
  const auto* failed = Find(events, ev::EventEnvelope::kStepFailed);
  EXPECT_EQ(failed->step_failed().result().error_code(), ty::ERROR_CODE_TIMEOUT);
  EXPECT_TRUE(failed->step_failed().will_retry());
  EXPECT_EQ(Find(events, ev::EventEnvelope::kStepStarted, 1)->step_started().op().attempt(), 2u);
  EXPECT_THAT(gw(kPrimary).CallKeys(), ElementsAre(key, AttemptKey(pid, 0, 2)));
  ASSERT_EQ(gw(kPrimary).Ledger().size(), 1u);
  EXPECT_EQ(gw(kPrimary).Ledger()[0].idempotency_key, AttemptKey(pid, 0, 2));
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, ManualPaymentsAreAuthorizedThenCapturedAndRefundedOrVoided) {
  const std::string pid = Send(Create(kCardMerchant, "order-manual", 9'000, ty::PAYMENT_METHOD_CARD,
                                      ty::CAPTURE_MODE_MANUAL));
  const std::string void_pid = Send(
      Create(kCardMerchant, "order-void", 6'000, ty::PAYMENT_METHOD_CARD, ty::CAPTURE_MODE_MANUAL));
  for (const auto& id : {pid, void_pid}) {
    ASSERT_TRUE(h_->WaitForEvent(id, ev::EventEnvelope::kPaymentCompleted)) << id;
    EXPECT_EQ(
        Find(h_->EventsOf(id), ev::EventEnvelope::kPaymentCompleted)->payment_completed().status(),
        ev::PAYMENT_STATUS_REQUIRES_CAPTURE);
  }

  // The first is captured in full, then partly refunded.
  ASSERT_EQ(h_->Publish(Capture(pid, "cap-1")), "");
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCaptured));
  EXPECT_EQ(Find(h_->EventsOf(pid), ev::EventEnvelope::kPaymentCaptured)
                ->payment_captured()
                .total_captured_minor(),
            9'000);
  ASSERT_EQ(h_->Publish(Refund(pid, "ref-1", 4'000)), "");
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kRefundSucceeded));
  const Events events = h_->EventsOf(pid);
  EXPECT_EQ(
      Find(events, ev::EventEnvelope::kRefundSucceeded)->refund_succeeded().total_refunded_minor(),
      4'000);
  EXPECT_EQ(Count(events, ev::EventEnvelope::kCommandRejected), 0);
  const auto calls = CallsOf(gw(kPrimary), pid);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].kind, ev::OPERATION_KIND_AUTHORIZE);
  EXPECT_EQ(calls[1].kind, ev::OPERATION_KIND_CAPTURE);
  EXPECT_EQ(calls[1].amount_minor, 9'000);
  EXPECT_EQ(calls[2].kind, ev::OPERATION_KIND_REFUND);
  EXPECT_EQ(calls[2].amount_minor, 4'000);
  // Capture and refund act on the authorization's processor reference.
  const std::string auth_ref = ReferenceOf(gw(kPrimary), calls[0].idempotency_key);
  EXPECT_EQ(calls[1].target_reference, auth_ref);
  EXPECT_EQ(calls[2].target_reference, auth_ref);

  // The second is voided before any capture.
  ASSERT_EQ(h_->Publish(Void(void_pid, "customer changed their mind")), "");
  ASSERT_TRUE(h_->WaitForEvent(void_pid, ev::EventEnvelope::kPaymentVoided));
  const Events voided = h_->EventsOf(void_pid);
  EXPECT_THAT(TypesOf(voided),
              ElementsAre("PaymentCreated", "PlanBuilt", "PaymentConfirmed", "StepStarted",
                          "StepSucceeded", "PaymentCompleted", "VoidStarted", "PaymentVoided"));
  EXPECT_FALSE(Find(voided, ev::EventEnvelope::kPaymentVoided)->payment_voided().compensation());
  const auto void_calls = CallsOf(gw(kPrimary), void_pid);
  ASSERT_EQ(void_calls.size(), 2u);
  EXPECT_EQ(void_calls[0].kind, ev::OPERATION_KIND_AUTHORIZE);
  EXPECT_EQ(void_calls[1].kind, ev::OPERATION_KIND_VOID);
  EXPECT_EQ(void_calls[1].amount_minor, 6'000);
  EXPECT_EQ(void_calls[1].target_reference,
            ReferenceOf(gw(kPrimary), void_calls[0].idempotency_key));
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, RepeatedCreateIsDeduplicatedAndAReusedKeyWithAnotherAmountIsRejected) {
  const auto create = Create(kCardMerchant, "order-dup", 3'000);
  const std::string pid = Send(create);
  ASSERT_EQ(h_->Publish(create), "");
  const std::string reused_pid = Send(Create(kCardMerchant, "order-reuse", 3'000));
  ASSERT_EQ(h_->Publish(Create(kCardMerchant, "order-reuse", 3'001)), "");

  // The same create again: one payment, one CommandDeduplicated, one gateway call.
  ASSERT_TRUE(h_->WaitFor(pid, [](const Events& es) {
    return Count(es, ev::EventEnvelope::kPaymentCompleted) == 1 &&
           Count(es, ev::EventEnvelope::kCommandDeduplicated) == 1;
  }));
  const Events events = h_->EventsOf(pid);
  EXPECT_EQ(Count(events, ev::EventEnvelope::kPaymentCreated), 1);
  EXPECT_EQ(Count(events, ev::EventEnvelope::kCommandRejected), 0);
  EXPECT_EQ(
      Find(events, ev::EventEnvelope::kCommandDeduplicated)->command_deduplicated().command_type(),
      "create");
  EXPECT_EQ(CallsOf(gw(kPrimary), pid).size(), 1u);

  // The same key with another amount: rejected as an idempotency mismatch; the first
  // request stands.
  ASSERT_TRUE(h_->WaitFor(reused_pid, [](const Events& es) {
    return Count(es, ev::EventEnvelope::kPaymentCompleted) == 1 &&
           Count(es, ev::EventEnvelope::kCommandRejected) == 1;
  }));
  const Events reused = h_->EventsOf(reused_pid);
  EXPECT_EQ(Count(reused, ev::EventEnvelope::kPaymentCreated), 1);
  const auto& rejected = Find(reused, ev::EventEnvelope::kCommandRejected)->command_rejected();
  EXPECT_EQ(rejected.reason(), ev::REJECT_REASON_IDEMPOTENCY_MISMATCH);
  EXPECT_EQ(rejected.contract_id(), "idempotency/mismatch");
  EXPECT_EQ(Find(reused, ev::EventEnvelope::kPaymentCompleted)
                ->payment_completed()
                .result()
                .total_processed_minor(),
            3'000);
  EXPECT_EQ(CallsOf(gw(kPrimary), reused_pid).size(), 1u);
  // The violation is recorded on the contracts topic too.
  const auto contracts = h_->WaitForRecords(log::TopicKind::kContracts, [&](const auto& records) {
    return std::any_of(records.begin(), records.end(), [&](const log::Record& r) {
      ::payments::contracts::v1::ContractViolation v;
      return v.ParseFromString(r.value) && v.contract_id() == "idempotency/mismatch" &&
             v.payment_id() == reused_pid;
    });
  });
  EXPECT_FALSE(contracts.empty());
  EXPECT_TRUE(h_->StopAndCheck());
}

TEST_F(EndToEnd, MalformedRecordsGoToTheDeadLetterTopicAndThePartitionKeepsGoing) {
  const std::string kUndecodable = "undecodable command record";
  const std::string kNoKey = "command record has no key";
  const std::string kWrongKey = "record key is not the command's payment_id";
  const std::string garbage("\xff\xfe not a protobuf");
  const std::string valid_bytes = Create(kCardMerchant, "order-bad-input", 100).SerializeAsString();

  // Every kind of bad record on every partition, ahead of a valid create.
  for (int p = 0; p < 4; ++p) {
    ASSERT_EQ(h_->PublishRaw("garbage-" + std::to_string(p), garbage, PartitionId{p}), "");
    ASSERT_EQ(h_->PublishRaw("", valid_bytes, PartitionId{p}), "");
    ASSERT_EQ(h_->PublishRaw("pay_not_this_one", valid_bytes, PartitionId{p}), "");
  }
  const std::string pid = Send(Create(kCardMerchant, "order-after-bad-input", 2'500));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  std::vector<std::string> later;
  for (int i = 0; i < 8; ++i)
    later.push_back(Send(Create(kCardMerchant, "after-" + std::to_string(i), 10 + i)));
  for (const auto& id : later) {
    ASSERT_TRUE(h_->WaitForEvent(id, ev::EventEnvelope::kPaymentCompleted)) << id;
  }

  // Each bad record: in the dead-letter topic with its reason and origin...
  const auto dead = h_->WaitForRecords(log::TopicKind::kDeadLetters,
                                       [](const auto& records) { return records.size() >= 12; });
  ASSERT_EQ(dead.size(), 12u);
  std::map<std::string, std::set<std::string>> partitions_by_reason;
  for (const auto& r : dead) {
    const std::string* reason = r.FindHeader("payorch.reason");
    const std::string* source = r.FindHeader("payorch.source.partition");
    ASSERT_NE(reason, nullptr);
    ASSERT_NE(source, nullptr);
    ASSERT_NE(r.FindHeader("payorch.source.offset"), nullptr);
    partitions_by_reason[*reason].insert(*source);
    EXPECT_EQ(r.value, *reason == kUndecodable ? garbage : valid_bytes);
  }
  const std::set<std::string> all = {"0", "1", "2", "3"};
  EXPECT_EQ(partitions_by_reason[kUndecodable], all);
  EXPECT_EQ(partitions_by_reason[kNoKey], all);
  EXPECT_EQ(partitions_by_reason[kWrongKey], all);

  // ... a request/malformed violation on the contracts topic ...
  const auto contracts = h_->WaitForRecords(
      log::TopicKind::kContracts, [](const auto& records) { return records.size() >= 12; });
  std::map<std::string, int> violations;
  for (const auto& r : contracts) {
    ::payments::contracts::v1::ContractViolation v;
    ASSERT_TRUE(v.ParseFromString(r.value));
    if (v.contract_id() == "request/malformed") ++violations[v.detail()];
  }
  EXPECT_EQ(violations[kUndecodable], 4);
  EXPECT_EQ(violations[kNoKey], 4);
  EXPECT_EQ(violations[kWrongKey], 4);

  // ... and a rejection event, so every command offset is accounted for.
  ASSERT_TRUE(h_->WaitForOrphans(12));
  std::map<int, int> by_reason;
  for (const auto& e : h_->Orphans()) {
    ASSERT_TRUE(e.has_command_rejected());
    EXPECT_EQ(e.command_rejected().contract_id(), "request/malformed");
    ++by_reason[e.command_rejected().reason()];
  }
  EXPECT_EQ(by_reason[ev::REJECT_REASON_UNDECODABLE], 8);
  EXPECT_EQ(by_reason[ev::REJECT_REASON_PAYMENT_ID_MISMATCH], 4);
  EXPECT_TRUE(h_->StopAndCheck());
}

// A record that names no payment (an empty value, an envelope without a command, a create
// without merchant or idempotency key, as `payorch send` keys by command id) is
// dead-lettered with its own fault, not a key mismatch (contracts.md); a decodable command of
// another schema that does name its payment is decided and dead-lettered, with one violation.
TEST_F(EndToEnd, ARecordThatNamesNoPaymentIsDeadLetteredWithItsOwnFault) {
  cmd::CommandEnvelope no_command;
  no_command.set_schema_version(1);
  no_command.set_command_id("no-command");
  auto no_merchant = Create(kCardMerchant, "no-merchant", 100);
  no_merchant.mutable_create()->set_merchant_id("   ");
  auto no_key = Create(kCardMerchant, "no-key", 100);
  no_key.mutable_create()->set_idempotency_key("");
  ASSERT_EQ(h_->PublishRaw("empty", "", PartitionId{0}), "");
  ASSERT_EQ(h_->PublishRaw("no-command", no_command.SerializeAsString(), PartitionId{1}), "");
  ASSERT_EQ(h_->PublishRaw("no-merchant", no_merchant.SerializeAsString(), PartitionId{2}), "");
  ASSERT_EQ(h_->PublishRaw("no-key", no_key.SerializeAsString(), PartitionId{3}), "");
  auto schema2 = Create(kCardMerchant, "schema-2", 100);
  const std::string pid = PaymentIdOf(schema2);
  schema2.set_schema_version(2);
  schema2.set_payment_id(pid);
  ASSERT_EQ(h_->PublishRaw(pid, schema2.SerializeAsString(), log::PartitionForKey(pid, 4)), "");

  ASSERT_TRUE(h_->WaitForOrphans(4));
  std::multiset<int> reasons;
  for (const auto& e : h_->Orphans()) reasons.insert(e.command_rejected().reason());
  EXPECT_EQ(reasons,
            (std::multiset<int>{
                ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED, ev::REJECT_REASON_COMMAND_MISSING,
                ev::REJECT_REASON_MERCHANT_MISSING, ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING}));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kCommandRejected));
  for (const auto& e : h_->EventsOf(pid)) {
    ASSERT_TRUE(e.has_command_rejected());
    EXPECT_EQ(e.command_rejected().reason(), ev::REJECT_REASON_SCHEMA_VERSION_UNSUPPORTED);
  }
  // Creates after them on every partition: when they are done, every violation of the five
  // records has been appended.
  for (int i = 0; i < 8; ++i) {
    const std::string id = Send(Create(kCardMerchant, "after-none-" + std::to_string(i), 10 + i));
    ASSERT_TRUE(h_->WaitForEvent(id, ev::EventEnvelope::kPaymentCompleted)) << id;
  }
  const auto dead = h_->WaitForRecords(log::TopicKind::kDeadLetters,
                                       [](const auto& records) { return records.size() >= 5; });
  EXPECT_EQ(dead.size(), 5u);
  const auto contracts = h_->WaitForRecords(
      log::TopicKind::kContracts, [](const auto& records) { return records.size() >= 5; });
  std::map<std::pair<int32_t, int64_t>, int> per_record;
  for (const auto& r : contracts) {
    ::payments::contracts::v1::ContractViolation v;
    ASSERT_TRUE(v.ParseFromString(r.value));
    if (v.contract_id() == "request/malformed") ++per_record[{v.partition(), v.offset()}];
  }
  EXPECT_EQ(per_record.size(), 5u);
  for (const auto& [where, n] : per_record)
    EXPECT_EQ(n, 1) << "partition " << where.first << " offset " << where.second;
  EXPECT_TRUE(h_->StopAndCheck());
}

// Issue 17: a correctly keyed create on a partition its key does not belong to (a producer
// with another partitioner) is dead-lettered with its own reason: deciding it there would
// start a second copy of the payment beside the one its home partition decides.
TEST_F(EndToEnd, ACommandOnTheWrongPartitionForItsKeyIsDeadLetteredNotDecided) {
  const auto create = Create(kCardMerchant, "order-wrong-partition", 900);
  const std::string pid = PaymentIdOf(create);
  const PartitionId home = log::PartitionForKey(pid, 4);
  const PartitionId wrong{(home.value() + 1) % 4};
  ASSERT_EQ(h_->PublishRaw(pid, create.SerializeAsString(), wrong), "");
  const auto dead = h_->WaitForRecords(log::TopicKind::kDeadLetters,
                                       [](const auto& records) { return !records.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  const std::string* reason = dead[0].FindHeader("payorch.reason");
  ASSERT_NE(reason, nullptr);
  EXPECT_NE(reason->find("belongs on partition " + std::to_string(home.value())), std::string::npos)
      << *reason;
  ASSERT_TRUE(h_->WaitForOrphans(1));
  ASSERT_TRUE(h_->Orphans()[0].has_command_rejected());
  EXPECT_EQ(h_->Orphans()[0].command_rejected().reason(), ev::REJECT_REASON_WRONG_PARTITION);
  // Its violation names the payment (the rejection event, on a partition not the payment's,
  // does not).
  const auto contracts = h_->WaitForRecords(log::TopicKind::kContracts,
                                            [](const auto& records) { return !records.empty(); });
  ::payments::contracts::v1::ContractViolation v;
  ASSERT_TRUE(v.ParseFromString(contracts[0].value));
  EXPECT_EQ(v.payment_id(), pid);
  EXPECT_EQ(contracts[0].key, pid);
  // The same create on its home partition is the payment, once.
  Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  EXPECT_EQ(Count(h_->EventsOf(pid), ev::EventEnvelope::kPaymentCreated), 1);
  EXPECT_TRUE(h_->StopAndCheck());
}

// Issue 17: a follow-up whose envelope names another merchant, written straight to the
// commands topic, is refused by the writer (MERCHANT_MISMATCH) and reaches no processor; the
// next follow-up, naming the payment's own merchant, is decided as usual.
TEST_F(EndToEnd, AFollowUpNamingAnotherMerchantIsRefusedByTheWriter) {
  const std::string pid = Send(Create(kCardMerchant, "order-other-merchant", 5'000,
                                      ty::PAYMENT_METHOD_CARD, ty::CAPTURE_MODE_MANUAL));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  cmd::CommandEnvelope forged = Void(pid, "not yours");
  forged.set_merchant_id(kSplitMerchant);
  ASSERT_EQ(h_->Publish(forged), "");
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kCommandRejected));
  const Events refused = h_->EventsOf(pid);
  const auto* rejected = Find(refused, ev::EventEnvelope::kCommandRejected);
  ASSERT_NE(rejected, nullptr);
  EXPECT_EQ(rejected->command_rejected().reason(), ev::REJECT_REASON_MERCHANT_MISMATCH)
      << rejected->ShortDebugString();
  EXPECT_EQ(rejected->command_rejected().command_type(), "void");

  cmd::CommandEnvelope capture = Capture(pid, "cap-1");
  capture.set_merchant_id(kCardMerchant);
  ASSERT_EQ(h_->Publish(capture), "");
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCaptured));
  const Events events = h_->EventsOf(pid);
  EXPECT_EQ(Count(events, ev::EventEnvelope::kVoidStarted), 0);
  EXPECT_EQ(Count(events, ev::EventEnvelope::kCommandRejected), 1);
  const auto calls = CallsOf(gw(kPrimary), pid);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].kind, ev::OPERATION_KIND_AUTHORIZE);
  EXPECT_EQ(calls[1].kind, ev::OPERATION_KIND_CAPTURE);
  EXPECT_TRUE(h_->StopAndCheck());
}

// Issue 17: an oversized record's dead letter is never lost to the producer's size limit:
// it keeps the original headers, its size and SHA-256, and the first 64 KiB of its value.
TEST_F(EndToEnd, AnOversizedRecordsDeadLetterKeepsItsHeadersSizeHashAndAPrefix) {
  const std::string big(300 * 1024, 'x');
  log::OutRecord out{h_->kafka().Topic(log::TopicKind::kCommands),
                     PartitionId{1},
                     "pay_big",
                     big,
                     {{"traceparent", "00-abc-def-01"}}};
  ASSERT_EQ(h_->AppendRecord(out), "");
  const auto dead = h_->WaitForRecords(log::TopicKind::kDeadLetters,
                                       [](const auto& records) { return !records.empty(); });
  ASSERT_EQ(dead.size(), 1u);
  const log::Record& r = dead[0];
  EXPECT_EQ(r.value, big.substr(0, 64 * 1024));
  ASSERT_NE(r.FindHeader("payorch.truncated"), nullptr);
  ASSERT_NE(r.FindHeader("payorch.original.size"), nullptr);
  EXPECT_EQ(*r.FindHeader("payorch.original.size"), std::to_string(big.size()));
  ASSERT_NE(r.FindHeader("payorch.original.sha256"), nullptr);
  EXPECT_EQ(r.FindHeader("payorch.original.sha256")->size(), 64u);
  ASSERT_NE(r.FindHeader("traceparent"), nullptr);
  EXPECT_EQ(*r.FindHeader("traceparent"), "00-abc-def-01");
  ASSERT_NE(r.FindHeader("payorch.reason"), nullptr);
  EXPECT_NE(r.FindHeader("payorch.reason")->find("too large"), std::string::npos);
  EXPECT_TRUE(h_->StopAndCheck());
}

// Connectors that take over a partition re-read its history (here: a second, connectors-
// only orchestrator in another group, reading from the beginning, as after a lost
// checkpoint or a move). A call whose outcome the log already holds is not made again:
// not the success, and not the network failure (its key is sealed now, so the gateway
// would refuse it, but the call is not even made).
TEST_F(EndToEnd, ConnectorsReReadingHistoryDoNotCallForDecidedOperations) {
  const auto create = Create(kCardMerchant, "order-reread", 3'100);
  const std::string id = PaymentIdOf(create);
  gw(kPrimary).OnKey(AttemptKey(id, 0, 1), {NetworkFailure()});
  gw(kPrimary).OnRetrieve(AttemptKey(id, 0, 1), {NotFound()});
  const std::string pid = Send(create);
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  ASSERT_EQ(gw(kPrimary).CallKeys().size(), 2u);

  command::PlanBuilder plans(TestConfig());
  SystemClock clock;
  runtime::OrchestratorOptions oo;
  oo.kafka = h_->kafka();
  char tmpl[] = "/tmp/payorch-e2e-reread-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  oo.data_dir = std::string(tmpl) + "/state";
  oo.writer_id = "reread";
  oo.connectors_group = "payorch.connectors.reread";
  oo.run_writers = false;
  oo.plans = &plans;
  oo.gateways = &h_->registry();
  oo.clock = &clock;
  runtime::Orchestrator second(oo);
  std::atomic<bool> stop{false};
  std::thread runner([&] { (void)second.Run(stop); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (second.probe().connectors.partitions.load() < 4 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(second.probe().connectors.partitions.load(), 4);
  // Time to read the whole (small) history and to call, if it were going to.
  std::this_thread::sleep_for(std::chrono::milliseconds(1'500));
  stop = true;
  runner.join();
  std::filesystem::remove_all(tmpl);

  EXPECT_THAT(gw(kPrimary).CallKeys(), ElementsAre(AttemptKey(pid, 0, 1), AttemptKey(pid, 0, 2)));
  EXPECT_TRUE(h_->StopAndCheck());
}

// A byte-identical copy of a StepStarted record (what an in-doubt produce retried by the
// idempotent producer leaves on the embedded broker) is not a new decision: connectors
// de-duplicate by (payment_id, sequence) and call the gateway once.
TEST_F(EndToEnd, DuplicatedStartedEventRecordDoesNotCallTheGatewayAgain) {
  const std::string pid = Send(Create(kCardMerchant, "order-dup-event", 1'500));
  ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted));
  const std::string key = AttemptKey(pid, 0, 1);
  ASSERT_EQ(gw(kPrimary).CallCount(key), 1);

  // Append a copy of the StepStarted record to its own partition.
  bool copied = false;
  for (const auto& r : h_->ReadTopic(log::TopicKind::kEvents)) {
    ev::EventEnvelope e;
    if (!copied && e.ParseFromString(r.value) && e.payment_id() == pid && e.has_step_started()) {
      ASSERT_EQ(h_->Append(log::TopicKind::kEvents, r.partition, r.key, r.value), "");
      copied = true;
    }
  }
  ASSERT_TRUE(copied);
  // Give the connectors time to read it (they poll every few milliseconds).
  std::this_thread::sleep_for(std::chrono::milliseconds(1'000));
  EXPECT_EQ(gw(kPrimary).CallCount(key), 1);
  EXPECT_TRUE(h_->StopAndCheck());
}

// The writers hand acknowledged StepStarted events to the connectors of the same process
// (runtime/started_handoff.h): calls start before the connectors' consumer reads them, and
// the read of each handed record still does everything but the call. Each attempt key is
// called once, no handed event turns out not to count, and the log checks.
TEST_F(EndToEnd, HandedOffCallsAreMadeOnceAndTheLogStillChecks) {
  const int64_t breaches_before = command::BreachCount();
  std::vector<std::string> pids;
  for (int i = 0; i < 40; ++i) {
    pids.push_back(Send(Create(kCardMerchant, "order-handoff-" + std::to_string(i), 1'000 + i)));
  }
  for (const std::string& pid : pids) {
    ASSERT_TRUE(h_->WaitForEvent(pid, ev::EventEnvelope::kPaymentCompleted)) << pid;
  }
  EXPECT_GT(h_->probe().connectors.handed.load(), 0u) << "no call came from a hand-off";
  for (const std::string& pid : pids) EXPECT_EQ(gw(kPrimary).CallCount(AttemptKey(pid, 0, 1)), 1);
  EXPECT_EQ(command::BreachCount(), breaches_before);
  EXPECT_TRUE(h_->StopAndCheck());
}

}  // namespace
}  // namespace payorch::testing::e2e
