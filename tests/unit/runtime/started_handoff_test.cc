// StartedHandoff: what the writers offer, the connector loop takes, in order, bounded.
#include "runtime/started_handoff.h"

#include <gtest/gtest.h>

namespace payorch::runtime {
namespace {

StartedHandoff::Item ItemAt(int64_t offset) {
  StartedHandoff::Item item;
  item.partition = 2;
  item.offset = offset;
  item.epoch = 7;
  item.event.set_payment_id("pay_" + std::to_string(offset));
  item.event.mutable_step_started()->mutable_op()->set_idempotency_key("k" +
                                                                       std::to_string(offset));
  return item;
}

TEST(StartedHandoff, TakesWhatWasOfferedInOrderOnce) {
  StartedHandoff handoff;
  handoff.Offer(ItemAt(10));
  handoff.Offer(ItemAt(11));
  const std::vector<StartedHandoff::Item> taken = handoff.Take();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].offset, 10);
  EXPECT_EQ(taken[1].offset, 11);
  EXPECT_EQ(taken[1].epoch, 7u);
  EXPECT_EQ(taken[1].event.payment_id(), "pay_11");
  EXPECT_TRUE(handoff.Take().empty());
}

// A connector loop that stopped taking cannot make the writers hold memory: offers past
// the capacity are dropped (the log delivers those events anyway) and counted.
TEST(StartedHandoff, OffersBeyondTheCapacityAreDroppedAndCounted) {
  StartedHandoff handoff(/*capacity=*/3);
  for (int64_t o = 0; o < 5; ++o) handoff.Offer(ItemAt(o));
  EXPECT_EQ(handoff.dropped(), 2u);
  const std::vector<StartedHandoff::Item> taken = handoff.Take();
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken.back().offset, 2);
  handoff.Offer(ItemAt(5));
  EXPECT_EQ(handoff.Take().size(), 1u) << "room again after a take";
}

}  // namespace
}  // namespace payorch::runtime
