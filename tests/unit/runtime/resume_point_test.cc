// The connectors' resume point: never past an unanswered call or a chased op, with the
// epoch filter's state at that offset.
#include "runtime/internal/resume_point.h"

#include <gtest/gtest.h>

namespace payorch::runtime::internal {
namespace {

PartitionMeta Saved(int64_t next, uint64_t epoch, uint64_t highest) {
  PartitionMeta m;
  m.next_events_offset = next;
  m.epoch = epoch;
  m.highest_epoch_seen = highest;
  return m;
}

TEST(ResumePointTest, WithNothingOpenItResumesAfterTheLastRecordRead) {
  ResumePoint rp(Saved(10, 2, 2));
  EXPECT_EQ(rp.next_offset(), 10);
  for (int64_t o = 10; o < 15; ++o) rp.Consumed(o);
  const PartitionMeta m = rp.Checkpoint();
  EXPECT_EQ(m.next_events_offset, 15);
  EXPECT_EQ(m.epoch, 2u);
  EXPECT_EQ(m.highest_epoch_seen, 2u);
}

TEST(ResumePointTest, AnUnansweredCallHoldsItBackUntilAnswered) {
  ResumePoint rp(Saved(0, 1, 1));
  for (int64_t o = 0; o < 20; ++o) rp.Consumed(o);
  rp.CallStarted(5);
  rp.CallStarted(12);
  rp.CallStarted(12);  // the same event's call twice (a hand-off and a read): two answers
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 5);
  rp.CallAnswered(5);
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 12);
  rp.CallAnswered(12);
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 12);
  rp.CallAnswered(12);
  rp.CallAnswered(99);  // unknown: ignored
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 20);
}

TEST(ResumePointTest, AChasedOpHoldsItBackUntilTheLogSettlesIt) {
  ResumePoint rp(Saved(0, 1, 1));
  for (int64_t o = 0; o < 30; ++o) rp.Consumed(o);
  rp.Chased("p:s0:a1", 7);
  rp.Chased("p:s0:a1", 9);  // a second unknown for the same op keeps the first offset
  EXPECT_EQ(rp.chased(), 1u);
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 7);
  rp.Settled("p:s0:a1");
  EXPECT_EQ(rp.Checkpoint().next_events_offset, 30);
}

// The checkpoint carries the epoch in force at its offset: a claim read after it is not
// folded in (a restart re-reads it), one before it is.
TEST(ResumePointTest, TheCheckpointCarriesTheEpochInForceAtItsOffset) {
  ResumePoint rp(Saved(0, 1, 1));
  for (int64_t o = 0; o < 10; ++o) rp.Consumed(o);
  rp.CallStarted(3);
  rp.Claim(2, 2, 2);
  rp.Claim(6, 3, 3);
  PartitionMeta m = rp.Checkpoint();
  EXPECT_EQ(m.next_events_offset, 3);
  EXPECT_EQ(m.epoch, 2u);
  rp.CallAnswered(3);
  m = rp.Checkpoint();
  EXPECT_EQ(m.next_events_offset, 10);
  EXPECT_EQ(m.epoch, 3u);
  EXPECT_EQ(m.highest_epoch_seen, 3u);
  // Folded claims stay folded.
  EXPECT_EQ(rp.Checkpoint().epoch, 3u);
}

}  // namespace
}  // namespace payorch::runtime::internal
