// InlineString and SmallVector (src/command/internal/): the value types PaymentState is
// made of. Each behaviour is checked on both sides of the inline capacity.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "command/internal/inline_string.h"
#include "command/internal/small_vector.h"

namespace payorch::command::internal {
namespace {

using ::testing::ElementsAre;

using Text = InlineString<8>;

std::string Long(char c) { return std::string(20, c); }  // beyond the inline capacity

TEST(InlineStringTest, HoldsShortAndLongValuesAndComparesAsAView) {
  for (const std::string& value :
       {std::string(), std::string("abc"), std::string(8, 'x'), std::string(9, 'y'), Long('z')}) {
    SCOPED_TRACE(value);
    Text t(value);
    EXPECT_EQ(t.view(), value);
    EXPECT_EQ(t.size(), value.size());
    EXPECT_EQ(t.empty(), value.empty());
    EXPECT_TRUE(t == value);
    EXPECT_TRUE(t == std::string_view(value));
    EXPECT_EQ(t.str(), value);
  }
}

TEST(InlineStringTest, ReassignmentMovesBetweenInlineAndHeap) {
  Text t("short");
  t = Long('a');
  EXPECT_EQ(t.view(), Long('a'));
  t = std::string_view("tiny");
  EXPECT_EQ(t.view(), "tiny");
  t = Long('b');
  t = Long('c');
  EXPECT_EQ(t.view(), Long('c'));
  t.clear();
  EXPECT_TRUE(t.empty());
}

TEST(InlineStringTest, AssigningFromItsOwnBytesIsSafe) {
  Text t(Long('a') + "bcd");
  t = t.view().substr(18);  // heap -> inline, from the heap buffer itself
  EXPECT_EQ(t.view(), "aabcd");
  Text u("abcdefg");
  u = u.view().substr(2);  // overlapping inline copy
  EXPECT_EQ(u.view(), "cdefg");
}

TEST(InlineStringTest, CopiesAreDeepAndMovesEmptyTheSource) {
  for (const std::string& value : {std::string("abc"), Long('q')}) {
    SCOPED_TRACE(value);
    Text a(value);
    Text b(a);
    a = std::string_view("other");
    EXPECT_EQ(b.view(), value);
    Text c(std::move(b));
    EXPECT_EQ(c.view(), value);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    Text d;
    d = std::move(c);
    EXPECT_EQ(d.view(), value);
    d = d;  // self-assignment keeps the value
    EXPECT_EQ(d.view(), value);
  }
}

using Vec = SmallVector<std::string, 2>;

std::vector<std::string> Items(const Vec& v) { return {v.begin(), v.end()}; }

TEST(SmallVectorTest, GrowsBeyondItsInlineCapacityKeepingOrder) {
  Vec v;
  EXPECT_TRUE(v.empty());
  for (int i = 0; i < 5; ++i) v.emplace_back(Long(static_cast<char>('a' + i)));
  ASSERT_EQ(v.size(), 5u);
  EXPECT_GE(v.capacity(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(v[i], Long(static_cast<char>('a' + i)));
  EXPECT_EQ(v.front(), Long('a'));
  EXPECT_EQ(v.back(), Long('e'));
}

TEST(SmallVectorTest, EraseShiftsTheRest) {
  for (int n : {2, 4}) {  // inline, heap
    SCOPED_TRACE(n);
    Vec v;
    for (int i = 0; i < n; ++i) v.push_back(std::to_string(i));
    auto it = v.erase(v.begin());
    EXPECT_EQ(it, v.begin());
    EXPECT_EQ(v.size(), static_cast<size_t>(n - 1));
    EXPECT_EQ(v.front(), "1");
    v.erase(v.end() - 1);
    EXPECT_EQ(v.size(), static_cast<size_t>(n - 2));
  }
}

TEST(SmallVectorTest, CopiesAndMovesOnBothSidesOfTheCapacity) {
  for (int n : {0, 1, 2, 3, 6}) {
    SCOPED_TRACE(n);
    Vec v;
    for (int i = 0; i < n; ++i) v.push_back(Long(static_cast<char>('a' + i)));
    const std::vector<std::string> items = Items(v);
    Vec copy(v);
    EXPECT_EQ(Items(copy), items);
    Vec assigned;
    assigned.push_back("old");
    assigned = v;
    EXPECT_EQ(Items(assigned), items);
    Vec moved(std::move(copy));
    EXPECT_EQ(Items(moved), items);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move)
    Vec move_assigned;
    for (int i = 0; i < 4; ++i) move_assigned.push_back("x");
    move_assigned = std::move(moved);
    EXPECT_EQ(Items(move_assigned), items);
    EXPECT_EQ(Items(v), items);  // the source of the copies is untouched
  }
}

TEST(SmallVectorTest, AssignReserveAndClear) {
  Vec v;
  v.assign(3, "s");
  EXPECT_THAT(Items(v), ElementsAre("s", "s", "s"));
  v.assign(1, "t");
  EXPECT_THAT(Items(v), ElementsAre("t"));
  v.reserve(10);
  EXPECT_GE(v.capacity(), 10u);
  EXPECT_THAT(Items(v), ElementsAre("t"));
  v.clear();
  EXPECT_TRUE(v.empty());
  v.emplace_back("again");
  EXPECT_THAT(Items(v), ElementsAre("again"));
}

}  // namespace
}  // namespace payorch::command::internal
