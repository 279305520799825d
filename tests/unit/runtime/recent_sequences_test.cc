#include "runtime/internal/recent_sequences.h"

#include <gtest/gtest.h>

#include <string>

namespace payorch::runtime::internal {
namespace {

std::string Id(int n) { return "pay-" + std::to_string(n); }

TEST(RecentSequencesTest, NewSequencesAdvanceAndRepeatsDoNot) {
  struct Case {
    uint64_t sequence;
    bool advances;
  };
  RecentSequences seen(16);
  for (const Case& c : {Case{1, true}, Case{1, false}, Case{2, true}, Case{1, false}, Case{5, true},
                        Case{5, false}, Case{4, false}}) {
    EXPECT_EQ(seen.Advance("pay-a", c.sequence), c.advances) << "sequence " << c.sequence;
  }
  EXPECT_TRUE(seen.Advance("pay-b", 1)) << "payments are independent";
}

TEST(RecentSequencesTest, NeverHoldsMoreThanItsCapacity) {
  RecentSequences seen(1000);
  for (int n = 0; n < 100'000; ++n) {
    ASSERT_TRUE(seen.Advance(Id(n), 1));
    ASSERT_LE(seen.size(), seen.capacity()) << "after " << n + 1 << " payments";
  }
  EXPECT_EQ(seen.capacity(), 1000u);
  EXPECT_GE(seen.size(), 500u) << "keeps at least the newest generation";
}

TEST(RecentSequencesTest, RemembersTheNewestPaymentsAndForgetsTheOldest) {
  RecentSequences seen(100);
  for (int n = 0; n < 1000; ++n) ASSERT_TRUE(seen.Advance(Id(n), 3));
  for (int n = 950; n < 1000; ++n) EXPECT_FALSE(seen.Advance(Id(n), 3)) << Id(n);
  EXPECT_TRUE(seen.Advance(Id(0), 3)) << "forgotten: a repeat counts as new again";
}

TEST(RecentSequencesTest, AnActivePaymentSurvivesRotations) {
  RecentSequences seen(10);
  uint64_t sequence = 1;
  ASSERT_TRUE(seen.Advance("pay-active", sequence));
  for (int n = 0; n < 200; ++n) {
    ASSERT_TRUE(seen.Advance(Id(n), 1));
    if (n % 3 == 0) {
      ASSERT_FALSE(seen.Advance("pay-active", sequence)) << "after " << n << " others";
      ASSERT_TRUE(seen.Advance("pay-active", ++sequence));
    }
  }
}

TEST(RecentSequencesTest, ASmallerCapacityAppliesFromTheNextRotation) {
  RecentSequences seen(1000);
  for (int n = 0; n < 1000; ++n) ASSERT_TRUE(seen.Advance(Id(n), 1));
  seen.set_capacity(10);
  EXPECT_EQ(seen.capacity(), 10u);
  for (int n = 1000; n < 1100; ++n) ASSERT_TRUE(seen.Advance(Id(n), 1));
  EXPECT_LE(seen.size(), 10u);
}

}  // namespace
}  // namespace payorch::runtime::internal
