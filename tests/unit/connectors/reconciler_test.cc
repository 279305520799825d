// The reconciler: retrieve-by-key with exponential backoff, expiry at the deadline, and
// tracking that ends when the log settles the operation.
#include "connectors/reconciler.h"

#include "connectors/dispatcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/connectors/test_support.h"

namespace payorch::connectors {
namespace {

using ::testing::ElementsAre;
using testing::Envelope;
using testing::MakeAnswer;
using testing::Op;
using testing::Processing;
using testing::ScriptedGateway;
using ::testing::SizeIs;
namespace ev = ::payments::events::v1;
namespace cmd = ::payments::commands::v1;
namespace types = ::payments::types::v1;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr char kKey[] = "pay_1:s0:a1";

struct Fixture {
  explicit Fixture(ReconcilerOptions options = {}) : reconciler(registry, clock, options) {
    EXPECT_TRUE(registry.Register("psp_a", gateway).ok());
  }
  // Ticks at every due time up to kT0 + `until`; returns when (after kT0) retrieves happened.
  std::vector<int64_t> RetrieveTimesUntil(int64_t until) {
    std::vector<int64_t> times;
    while (auto next = reconciler.NextDueMs()) {
      if (*next - kT0 > until) break;
      clock.Set(std::max(*next, clock.NowMs()));
      const size_t before = gateway->retrieves.size();
      (void)reconciler.Tick();
      if (gateway->retrieves.size() > before) times.push_back(clock.NowMs() - kT0);
    }
    return times;
  }

  ManualClock clock{kT0};
  GatewayRegistry registry;
  std::shared_ptr<ScriptedGateway> gateway = std::make_shared<ScriptedGateway>();
  Reconciler reconciler;
};

ev::EventEnvelope Settling(const std::string& payment, const ev::GatewayOperation& op,
                           const std::string& which) {
  ev::EventEnvelope e = Envelope(payment, 9);
  if (which == "StepSucceeded") *e.mutable_step_succeeded()->mutable_op() = op;
  if (which == "StepFailed") *e.mutable_step_failed()->mutable_op() = op;
  if (which == "ProcessingExpired") *e.mutable_processing_expired()->mutable_op() = op;
  if (which == "PaymentCaptured") *e.mutable_payment_captured()->mutable_op() = op;
  if (which == "CaptureFailed") *e.mutable_capture_failed()->mutable_op() = op;
  if (which == "PaymentVoided") *e.mutable_payment_voided()->mutable_op() = op;
  if (which == "VoidFailed") *e.mutable_void_failed()->mutable_op() = op;
  if (which == "RefundSucceeded") *e.mutable_refund_succeeded()->mutable_op() = op;
  if (which == "RefundFailed") *e.mutable_refund_failed()->mutable_op() = op;
  if (which == "PaymentFailed") e.mutable_payment_failed()->set_reason("x");
  if (which == "PaymentCompleted") e.mutable_payment_completed();
  return e;
}

TEST(Reconciler, RetriesUnknownOutcomesWithExponentialBackoffUpToTheCap) {
  Fixture f({.initial_backoff_ms = 200, .max_backoff_ms = 3000, .multiplier = 2});
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), 0));
  EXPECT_EQ(f.reconciler.tracked(), 1u);

  f.clock.Set(kT0 + 199);
  EXPECT_TRUE(f.reconciler.Tick().empty());
  EXPECT_TRUE(f.gateway->retrieves.empty()) << "not due before initial_backoff_ms";

  f.clock.Set(kT0);
  EXPECT_THAT(f.RetrieveTimesUntil(15000),
              ElementsAre(200, 600, 1400, 3000, 6000, 9000, 12000, 15000));
  EXPECT_THAT(f.gateway->retrieves, ::testing::Each(std::string(kKey)));
  EXPECT_EQ(f.reconciler.probe().unknown.load(), 8u);
  EXPECT_EQ(f.reconciler.tracked(), 1u);
}

TEST(Reconciler, DefiniteAnswerBecomesARecordGatewayResult) {
  const GatewayAnswer answers[] = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "ref-1"),
      MakeAnswer(cmd::GATEWAY_OUTCOME_FAILED, 0, types::ERROR_CODE_DECLINED, "ref-2"),
      MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND),
  };
  for (const GatewayAnswer& answer : answers) {
    SCOPED_TRACE(cmd::GatewayOutcome_Name(answer.outcome));
    Fixture f;
    f.gateway->retrieve_script = {MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN), answer};
    f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), 0));
    f.clock.Set(kT0 + 200);
    EXPECT_TRUE(f.reconciler.Tick().empty());
    f.clock.Set(kT0 + 600);
    const auto out = f.reconciler.Tick();
    ASSERT_THAT(out, SizeIs(1));
    const cmd::CommandEnvelope& c = out[0];
    EXPECT_EQ(c.schema_version(), 1u);
    EXPECT_EQ(c.command_id(), std::string("gw/") + kKey + "/reconcile/2");
    EXPECT_EQ(c.payment_id(), "pay_1");
    EXPECT_EQ(c.correlation_id(), "corr-pay_1");
    const cmd::RecordGatewayResult& r = c.gateway_result();
    EXPECT_EQ(r.operation_key(), kKey);
    EXPECT_EQ(r.outcome(), answer.outcome);
    EXPECT_EQ(r.amount_processed_minor(), answer.amount_processed_minor);
    EXPECT_EQ(r.error_code(), answer.error_code);
    EXPECT_EQ(r.processor_reference(), answer.processor_reference);
    EXPECT_EQ(r.processor_id(), "psp_a");
    EXPECT_EQ(r.source(), "reconcile");
    EXPECT_EQ(f.reconciler.tracked(), 1u) << "until the log settles it";
  }
}

TEST(Reconciler, AnAnswerNotYetSettledIsSentAgainOnTheNextTry) {
  Fixture f;
  const GatewayAnswer ok =
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "ref-1");
  f.gateway->retrieve_script = {ok, ok};
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), 0));
  f.clock.Set(kT0 + 200);
  ASSERT_THAT(f.reconciler.Tick(), SizeIs(1));
  f.clock.Set(kT0 + 599);
  EXPECT_TRUE(f.reconciler.Tick().empty());
  f.clock.Set(kT0 + 600);
  const auto again = f.reconciler.Tick();
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].command_id(), std::string("gw/") + kKey + "/reconcile/2");
}

TEST(Reconciler, SettlingEventsStopTracking) {
  const char* settling[] = {"StepSucceeded",   "StepFailed",      "ProcessingExpired",
                            "PaymentCaptured", "CaptureFailed",   "PaymentVoided",
                            "VoidFailed",      "RefundSucceeded", "RefundFailed",
                            "PaymentFailed",   "PaymentCompleted"};
  for (const char* which : settling) {
    SCOPED_TRACE(which);
    Fixture f({.chase_late_answers = false});
    const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
    f.reconciler.OnEvent(Processing("pay_1", op, kT0 + 5000));
    f.reconciler.OnEvent(Processing("pay_2", Op(ev::OPERATION_KIND_SALE, "pay_2:s0:a1"), 0));
    f.reconciler.OnEvent(Settling("pay_1", op, which));
    EXPECT_EQ(f.reconciler.tracked(), 1u) << "pay_2 is still tracked";
    f.clock.Set(kT0 + 10000);
    for (const auto& c : f.reconciler.Tick()) EXPECT_EQ(c.payment_id(), "pay_2");
    EXPECT_THAT(f.gateway->retrieves, ::testing::Each(std::string("pay_2:s0:a1")));
  }
}

TEST(Reconciler, EventsForOtherKeysOrPaymentsDoNotStopTracking) {
  Fixture f({.chase_late_answers = false});
  const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
  f.reconciler.OnEvent(Processing("pay_1", op, 0));
  f.reconciler.OnEvent(Settling("pay_1", Op(ev::OPERATION_KIND_SALE, "pay_1:s0:a2"), "StepFailed"));
  f.reconciler.OnEvent(Settling("pay_9", op, "PaymentFailed"));
  ev::EventEnvelope started = Envelope("pay_1");
  *started.mutable_step_started()->mutable_op() = op;
  f.reconciler.OnEvent(started);
  EXPECT_EQ(f.reconciler.tracked(), 1u);
}

TEST(Reconciler, ExpiresAChargeOnceAtItsDeadlineAndKeepsReconciling) {
  Fixture f({.initial_backoff_ms = 200, .max_backoff_ms = 30000, .multiplier = 2});
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_AUTHORIZE, kKey), kT0 + 1000));
  EXPECT_EQ(*f.reconciler.NextDueMs(), kT0 + 200);
  f.clock.Set(kT0 + 999);
  (void)f.reconciler.Tick();
  EXPECT_EQ(f.reconciler.probe().expiries.load(), 0u);

  f.clock.Set(kT0 + 1000);
  const auto out = f.reconciler.Tick();
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].command_id(), std::string("expire/") + kKey);
  EXPECT_EQ(out[0].payment_id(), "pay_1");
  EXPECT_EQ(out[0].correlation_id(), "corr-pay_1");
  ASSERT_TRUE(out[0].has_expire());
  EXPECT_EQ(out[0].expire().operation_key(), kKey);

  f.clock.Set(kT0 + 60000);
  EXPECT_TRUE(f.reconciler.Tick().empty()) << "one ExpireProcessing only";
  EXPECT_EQ(f.reconciler.tracked(), 1u) << "a late answer may still come";
  f.gateway->retrieve_script = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "r")};
  f.clock.Set(*f.reconciler.NextDueMs());
  const auto late = f.reconciler.Tick();
  ASSERT_THAT(late, SizeIs(1));
  EXPECT_TRUE(late[0].has_gateway_result());
}

// A partition whose owner is still re-reading history: its ops are neither retrieved nor
// expired (the log ahead may settle them) until it is released.
TEST(Reconciler, AHeldPartitionIsNeitherRetrievedNorExpiredUntilReleased) {
  Fixture f({.initial_backoff_ms = 200, .max_backoff_ms = 30000, .multiplier = 2});
  f.reconciler.Hold(3);
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_AUTHORIZE, kKey), kT0 + 1000),
                       /*partition=*/3);
  f.reconciler.OnEvent(
      Processing("pay_2", Op(ev::OPERATION_KIND_AUTHORIZE, "pay_2:s0:a1"), kT0 + 1000),
      /*partition=*/4);
  EXPECT_EQ(*f.reconciler.NextDueMs(), kT0 + 200) << "partition 4 is due, 3 is not";
  f.clock.Set(kT0 + 5000);
  const auto out = f.reconciler.Tick();
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].payment_id(), "pay_2");
  EXPECT_THAT(f.gateway->retrieves, ElementsAre("pay_2:s0:a1"));
  EXPECT_EQ(f.reconciler.tracked(), 2u);

  f.reconciler.Release(3);
  const auto after = f.reconciler.Tick();
  ASSERT_THAT(after, SizeIs(1));
  EXPECT_EQ(after[0].command_id(), std::string("expire/") + kKey);
  EXPECT_THAT(f.gateway->retrieves, ElementsAre("pay_2:s0:a1", kKey));
}

// A revoked partition's ops are dropped: its next owner chases them.
TEST(Reconciler, ForgettingAPartitionDropsItsOpsOnly) {
  Fixture f;
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_AUTHORIZE, kKey), kT0 + 1000),
                       /*partition=*/3);
  f.reconciler.OnEvent(
      Processing("pay_2", Op(ev::OPERATION_KIND_AUTHORIZE, "pay_2:s0:a1"), kT0 + 1000),
      /*partition=*/4);
  f.reconciler.OnEvent(
      Processing("pay_3", Op(ev::OPERATION_KIND_AUTHORIZE, "pay_3:s0:a1"), kT0 + 1000));
  // One of partition 3's retrieves is in flight when it is revoked.
  f.clock.Set(kT0 + 200);
  const auto tasks = f.reconciler.TakeDue([](const RetrieveTask& t) { return t.key == kKey; });
  ASSERT_THAT(tasks, SizeIs(1));

  EXPECT_EQ(f.reconciler.Forget(3), 1u);
  EXPECT_EQ(f.reconciler.tracked(), 2u);
  EXPECT_TRUE(f.reconciler
                  .OnRetrieved(tasks[0], MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 5,
                                                    types::ERROR_CODE_UNSPECIFIED, "r"))
                  .empty())
      << "the answer for a forgotten op is moot";
  f.clock.Set(kT0 + 5000);
  for (const auto& c : f.reconciler.Tick()) EXPECT_NE(c.payment_id(), "pay_1");
  EXPECT_EQ(f.reconciler.Forget(3), 0u);
}

// A step an open breaker skipped was not sent by that connector, but another connector
// may have sent its key: it is retrieved once, which seals it (or finds the charge).
TEST(Reconciler, ChasesAStepSkippedByAnOpenBreakerUntilADefiniteAnswer) {
  const std::vector<GatewayAnswer> answers = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND),
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "r")};
  for (const GatewayAnswer& found : answers) {
    SCOPED_TRACE(cmd::GatewayOutcome_Name(found.outcome));
    Fixture f;
    f.gateway->retrieve_script = {MakeAnswer(cmd::GATEWAY_OUTCOME_UNKNOWN), found};
    ev::EventEnvelope skipped = Settling("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), "StepFailed");
    skipped.mutable_step_failed()->set_circuit_open(true);
    f.reconciler.OnEvent(skipped);
    EXPECT_EQ(f.reconciler.tracked(), 1u);
    EXPECT_EQ(f.reconciler.probe().skipped.load(), 1u);

    EXPECT_THAT(f.RetrieveTimesUntil(10'000), ElementsAre(200, 600));  // UNKNOWN, then found
    EXPECT_THAT(f.gateway->retrieves, ElementsAre(kKey, kKey));
    EXPECT_EQ(f.reconciler.tracked(), 0u) << "dropped once a definite answer is sent";
  }
  // A plain failure is settled, not chased.
  Fixture f;
  f.reconciler.OnEvent(Settling("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), "StepFailed"));
  EXPECT_EQ(f.reconciler.tracked(), 0u);
}

TEST(Reconciler, OnlyAuthorizationsAndSalesExpire) {
  for (ev::OperationKind kind :
       {ev::OPERATION_KIND_CAPTURE, ev::OPERATION_KIND_VOID, ev::OPERATION_KIND_REFUND}) {
    Fixture f;
    f.reconciler.OnEvent(Processing("pay_1", Op(kind, "k:s0"), kT0 + 100));
    f.clock.Set(kT0 + 100000);
    EXPECT_TRUE(f.reconciler.Tick().empty()) << ev::OperationKind_Name(kind);
    EXPECT_EQ(f.reconciler.probe().expiries.load(), 0u);
  }
}

TEST(Reconciler, AnswerFoundAtTheDeadlineGoesOutInsteadOfAnExpiry) {
  Fixture f;
  f.gateway->retrieve_script = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "r")};
  f.reconciler.OnEvent(Processing("pay_1", Op(ev::OPERATION_KIND_SALE, kKey), kT0 + 200));
  f.clock.Set(kT0 + 200);
  const auto out = f.reconciler.Tick();
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_TRUE(out[0].has_gateway_result());
}

TEST(Reconciler, ChasesALateAnswerAfterTheDeadlineThenForgetsIt) {
  Fixture f;  // chase_late_answers defaults to true
  const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
  f.reconciler.OnEvent(Processing("pay_1", op, kT0 + 1000));
  f.clock.Set(kT0 + 1000);
  (void)f.reconciler.Tick();  // one retrieve (UNKNOWN) and the expiry
  f.reconciler.OnEvent(Settling("pay_1", op, "ProcessingExpired"));
  f.reconciler.OnEvent(Settling("pay_1", op, "PaymentFailed"));
  EXPECT_EQ(f.reconciler.tracked(), 1u);
  EXPECT_EQ(*f.reconciler.NextDueMs(), kT0 + 1000) << "chased at the next Tick";

  f.clock.Set(kT0 + 1001);
  EXPECT_TRUE(f.reconciler.Tick().empty()) << "still UNKNOWN: keep chasing, no second expiry";
  f.gateway->retrieve_script = {
      MakeAnswer(cmd::GATEWAY_OUTCOME_SUCCEEDED, 1000, types::ERROR_CODE_UNSPECIFIED, "r")};
  f.clock.Set(*f.reconciler.NextDueMs());
  const auto out = f.reconciler.Tick();
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].gateway_result().outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(f.reconciler.tracked(), 0u);
}

TEST(Reconciler, NoChaseWhenADefiniteAnswerWasAlreadySentOrTheEventIsTooOld) {
  {
    Fixture f;
    const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
    f.gateway->retrieve_script = {MakeAnswer(cmd::GATEWAY_OUTCOME_NOT_FOUND)};
    f.reconciler.OnEvent(Processing("pay_1", op, 0));
    f.clock.Set(kT0 + 200);
    ASSERT_THAT(f.reconciler.Tick(), SizeIs(1));
    f.reconciler.OnEvent(Settling("pay_1", op, "ProcessingExpired"));
    EXPECT_EQ(f.reconciler.tracked(), 0u);
  }
  {
    Fixture f({.late_horizon_ms = 1000});
    const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
    f.reconciler.OnEvent(Processing("pay_1", op, 0));
    ev::EventEnvelope expired = Settling("pay_1", op, "ProcessingExpired");
    expired.set_occurred_at_ms(kT0 - 5000);  // replayed from long ago
    f.reconciler.OnEvent(expired);
    EXPECT_EQ(f.reconciler.tracked(), 0u);
  }
}

TEST(Reconciler, OutputIsOrderedByKeyAndDeterministic) {
  auto run = [] {
    Fixture f;
    for (const char* key : {"pay_c:s0:a1", "pay_a:s0:a1", "pay_b:s0:a1"}) {
      const std::string k(key);
      f.reconciler.OnEvent(Processing(k.substr(0, 5), Op(ev::OPERATION_KIND_SALE, k), kT0 + 200));
    }
    f.clock.Set(kT0 + 200);
    std::vector<std::string> ids;
    for (const auto& c : f.reconciler.Tick()) ids.push_back(c.command_id());
    return ids;
  };
  const auto ids = run();
  EXPECT_THAT(ids, ElementsAre("expire/pay_a:s0:a1", "expire/pay_b:s0:a1", "expire/pay_c:s0:a1"));
  EXPECT_EQ(run(), ids);
}

// With the real simulated processor: a charge whose answer was lost is found by key.
TEST(Reconciler, FindsAChargeWhoseAnswerWasLost) {
  ManualClock clock(kT0);
  GatewayRegistry registry({.ledger_dir = "",
                            .default_spec = "flaky:seed=1,lost=1",
                            .sleep = [](std::chrono::milliseconds) {}});
  Dispatcher dispatcher(registry);
  Reconciler reconciler(registry, clock);

  ev::EventEnvelope started = Envelope("pay_1", 3);
  const ev::GatewayOperation op = Op(ev::OPERATION_KIND_SALE, kKey);
  *started.mutable_step_started()->mutable_op() = op;
  const auto call = dispatcher.Handle(started);
  ASSERT_TRUE(call.has_value());
  EXPECT_EQ(call->gateway_result().outcome(), cmd::GATEWAY_OUTCOME_UNKNOWN);

  reconciler.OnEvent(Processing("pay_1", op, kT0 + 30000));  // what the writer logs next
  clock.Set(kT0 + 200);
  const auto out = reconciler.Tick();
  ASSERT_THAT(out, SizeIs(1));
  const cmd::RecordGatewayResult& r = out[0].gateway_result();
  EXPECT_EQ(r.outcome(), cmd::GATEWAY_OUTCOME_SUCCEEDED);
  EXPECT_EQ(r.amount_processed_minor(), 1000);
  ASSERT_THAT(registry.LedgerEntries(), SizeIs(1));
  EXPECT_EQ(r.processor_reference(), registry.LedgerEntries()[0].processor_reference);

  ev::EventEnvelope succeeded = Settling("pay_1", op, "StepSucceeded");
  reconciler.OnEvent(succeeded);
  EXPECT_EQ(reconciler.tracked(), 0u);
}

}  // namespace
}  // namespace payorch::connectors
