// runtime::ConnectorTracker: which records become gateway calls, and where a restart resumes.
#include "runtime/connector_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "connectors/reconciler.h"
#include "connectors/registry.h"

namespace payorch::runtime {
namespace {

namespace ev = ::payments::events::v1;

struct FixedClock final : Clock {
  int64_t NowMs() const override { return 1'700'000'000'000; }
};

log::Record RecordOf(const ev::EventEnvelope& e, int64_t offset) {
  log::Record r;
  r.partition = PartitionId{0};
  r.offset = Offset{offset};
  r.value = e.SerializeAsString();
  return r;
}

ev::EventEnvelope Claim(uint64_t epoch) {
  ev::EventEnvelope e;
  e.set_epoch(epoch);
  e.mutable_writer_claimed()->set_epoch(epoch);
  return e;
}

ev::GatewayOperation Op(const std::string& key) {
  ev::GatewayOperation op;
  op.set_kind(ev::OPERATION_KIND_AUTHORIZE);
  op.set_idempotency_key(key);
  op.set_processor_id("proc");
  op.mutable_amount()->set_amount_minor(100);
  op.mutable_amount()->set_currency("USD");
  return op;
}

// An event of pay_1 in epoch 1 whose `op` is set by `field` (e.g. mutable_step_started).
template <class Field>
ev::EventEnvelope OfPayment(uint64_t sequence, const std::string& key, Field field) {
  ev::EventEnvelope e;
  e.set_epoch(1);
  e.set_payment_id("pay_1");
  e.set_sequence(sequence);
  *(e.*field)()->mutable_op() = Op(key);
  return e;
}

ev::EventEnvelope Started(const std::string& key, uint64_t sequence) {
  return OfPayment(sequence, key, &ev::EventEnvelope::mutable_step_started);
}

ev::EventEnvelope Failed(const std::string& key, uint64_t sequence) {
  return OfPayment(sequence, key, &ev::EventEnvelope::mutable_step_failed);
}

class ConnectorTrackerTest : public ::testing::Test {
 protected:
  std::vector<ConnectorTracker::Call> Feed(const ev::EventEnvelope& e, int64_t offset) {
    ConnectorTracker::Observation seen;
    return tracker.Observe(RecordOf(e, offset), clock.NowMs(), &seen);
  }

  FixedClock clock;
  connectors::GatewayRegistry registry{
      connectors::GatewayRegistryOptions{.ledger_dir = "", .default_spec = "", .sleep = {}}};
  connectors::Reconciler reconciler{registry, clock};
  ConnectorTracker tracker{reconciler};
};

TEST_F(ConnectorTrackerTest, ALiveStartIsACallAndHoldsTheResumePointUntilAnswered) {
  EXPECT_EQ(tracker.Assign(0, PartitionMeta{}, log::Watermarks{Offset{0}, Offset{0}}), 0);
  EXPECT_TRUE(Feed(Claim(1), 0).empty());
  const auto calls = Feed(Started("k1", 1), 1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].repeat);
  EXPECT_EQ(calls[0].offset, 1);
  EXPECT_EQ(tracker.Checkpoint(0)->next_events_offset, 1) << "never past an unanswered call";
  tracker.Answered(0, 1);
  EXPECT_EQ(tracker.Checkpoint(0)->next_events_offset, 2);
  // A re-published copy (same payment, same sequence) is not a second call.
  EXPECT_TRUE(Feed(Started("k1", 1), 2).empty());
}

TEST_F(ConnectorTrackerTest, HistoryIsHeldUntilCaughtUpAndAnsweredCallsAreNotRepeated) {
  // Four records were in the log when the partition was assigned.
  EXPECT_EQ(tracker.Assign(0, PartitionMeta{}, log::Watermarks{Offset{0}, Offset{4}}), 0);
  EXPECT_TRUE(Feed(Claim(1), 0).empty());
  EXPECT_TRUE(Feed(Started("k1", 1), 1).empty()) << "held: the history may answer it";
  EXPECT_TRUE(Feed(Failed("k1", 2), 2).empty()) << "answered in the log: dropped";
  // The last record of history: caught up. Only the call the log left unanswered is made.
  const auto calls = Feed(Started("k2", 3), 3);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.step_started().op().idempotency_key(), "k2");
  EXPECT_TRUE(calls[0].repeat);
}

TEST_F(ConnectorTrackerTest, AHeldCallStillUnansweredAtTheEndOfHistoryIsMadeAsARepeat) {
  EXPECT_EQ(tracker.Assign(0, PartitionMeta{}, log::Watermarks{Offset{0}, Offset{3}}), 0);
  EXPECT_TRUE(Feed(Claim(1), 0).empty());
  EXPECT_TRUE(Feed(Started("k1", 1), 1).empty());
  const auto calls = Feed(Failed("other", 2), 2);  // the last record of history
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].repeat);
  EXPECT_EQ(calls[0].event.step_started().op().idempotency_key(), "k1");
}

TEST_F(ConnectorTrackerTest, ACheckpointOutsideTheLogRestartsAtItsLowWatermark) {
  PartitionMeta stale;
  stale.next_events_offset = 50;
  stale.epoch = 9;
  EXPECT_EQ(tracker.Assign(0, stale, log::Watermarks{Offset{3}, Offset{10}}), 3);
  EXPECT_EQ(tracker.Checkpoint(0)->epoch, 0u);
  EXPECT_EQ(tracker.Revoke(0), 0u);
  EXPECT_FALSE(tracker.Checkpoint(0).has_value());
}

}  // namespace
}  // namespace payorch::runtime
