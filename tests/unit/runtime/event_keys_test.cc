// runtime/internal/event_keys.h: the connectors' resume point never passes an op whose
// outcome is unknown, so which events settle an op decides whether a restart still
// reconciles it (docs/reliability.md, finding 8).
#include "runtime/internal/event_keys.h"

#include <gtest/gtest.h>

namespace payorch::runtime::internal {
namespace {

namespace ev = ::payments::events::v1;

constexpr char kKey[] = "pay_1:s0:a1";

ev::EventEnvelope Deduplicated(const std::string& command_id) {
  ev::EventEnvelope e;
  e.set_payment_id("pay_1");
  e.mutable_causation()->set_command_id(command_id);
  auto* d = e.mutable_command_deduplicated();
  d->set_command_type("gateway_result");
  d->set_original_id(kKey);
  return e;
}

TEST(EventKeys, AnAnswerTheCoreTookSettlesItsOp) {
  ev::EventEnvelope e;
  e.mutable_step_failed()->mutable_op()->set_idempotency_key(kKey);
  EXPECT_EQ(SettledKey(e), kKey);
  ev::EventEnvelope late_void;
  late_void.mutable_void_started()->mutable_op()->set_parent_id(kKey);
  EXPECT_EQ(SettledKey(late_void), kKey) << "a late success's void replaces the attempt";
}

// The core de-duplicates a second UNKNOWN (a duplicate delivery, a repeated call) and an
// open breaker's skip while the payment is processing: the outcome is still unknown.
TEST(EventKeys, ARepeatedCallAnswerLeavesAnUnknownOpUnsettled) {
  EXPECT_EQ(SettledKey(Deduplicated(std::string("gw/") + kKey + "/call")), "");
  EXPECT_EQ(SettledKey(Deduplicated(std::string("gw/") + kKey + "/breaker")), "");
}

// A reconciler's answer is definite; the core de-duplicates it once the attempt is
// resolved (its deadline passed while the reconciler kept asking): nothing is left to chase.
TEST(EventKeys, AReconcilerAnswerTheCoreDeduplicatedSettlesItsOp) {
  EXPECT_EQ(SettledKey(Deduplicated(std::string("gw/") + kKey + "/reconcile/3")), kKey);
}

// The core marks a reconciler's answer it de-duplicated (reconciler_answer): that settles
// the op whatever the command id says; the command id is only read for older records.
TEST(EventKeys, TheCoresMarkSettlesWithoutReadingTheCommandId) {
  ev::EventEnvelope marked = Deduplicated("any-command-id");
  marked.mutable_command_deduplicated()->set_reconciler_answer(true);
  EXPECT_EQ(SettledKey(marked), kKey);
  EXPECT_EQ(SettledKey(Deduplicated("any-command-id")), "");
}

// A step an open breaker skipped is chased, not settled: the resume point keeps it until
// the chase's answer is in the log, so a connector restart does not forget the chase.
TEST(EventKeys, ABreakerSkipIsChasedUntilTheReconcilerAnswers) {
  ev::EventEnvelope skip;
  skip.mutable_step_failed()->mutable_op()->set_idempotency_key(kKey);
  skip.mutable_step_failed()->set_circuit_open(true);
  EXPECT_EQ(ChasedKey(skip), kKey);
  EXPECT_EQ(SettledKey(skip), "");
  EXPECT_EQ(SettledKey(Deduplicated(std::string("gw/") + kKey + "/reconcile/1")), kKey);
  ev::EventEnvelope processing;
  processing.mutable_payment_processing()->mutable_op()->set_idempotency_key(kKey);
  EXPECT_EQ(ChasedKey(processing), kKey);
  ev::EventEnvelope failed;
  failed.mutable_step_failed()->mutable_op()->set_idempotency_key(kKey);
  EXPECT_EQ(ChasedKey(failed), "");
}

TEST(EventKeys, OnlyGatewayResultsSettleAndStartedEventsAskForACall) {
  ev::EventEnvelope e = Deduplicated(std::string("gw/") + kKey + "/reconcile/1");
  e.mutable_command_deduplicated()->set_command_type("capture");
  EXPECT_EQ(SettledKey(e), "");
  ev::EventEnvelope started;
  started.mutable_capture_started()->mutable_op()->set_idempotency_key("cap_1:s0");
  EXPECT_TRUE(IsStarted(started));
  EXPECT_EQ(StartedKey(started), "cap_1:s0");
  EXPECT_EQ(SettledKey(started), "");
}

}  // namespace
}  // namespace payorch::runtime::internal
