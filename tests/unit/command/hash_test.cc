// Stable hashes: the same bytes everywhere, forever (payment ids and request hashes are in
// the log). The golden values below were produced by the first implementation; a change
// here is a breaking change of every derived payment id.
#include "command/hash.h"

#include <gtest/gtest.h>

#include <climits>
#include <set>

namespace payorch {
namespace {

TEST(StableHashTest, GoldenValues) {
  EXPECT_EQ(StableHash128(""), "6168c18c5583c71bae768833f4ae4d27");
  EXPECT_EQ(StableHash128("hello"), "eba7c69e78f0d330ad4bddd80a34302f");
  EXPECT_EQ(DerivePaymentId("m_seed", "order-1"), "pay_9195ed1253cedd108f20398ba1da6b93");
  EXPECT_EQ(StableHasher().Add("a").Add(int64_t{-42}).Add(int64_t{LLONG_MIN}).Add(int64_t{0}).Hex(),
            "f1325336090da03528b77f7b8a073726");
}

TEST(StableHashTest, FieldBoundariesArePartOfTheHash) {
  EXPECT_EQ(StableHasher().Add("ab").Add("c").Hex(), "ad3a2c57eccdb35fcfd491960eef779f");
  EXPECT_EQ(StableHasher().Add("a").Add("bc").Hex(), "02a8c7c89503ad1cd85f73532faef705");
  EXPECT_NE(StableHasher().Add("").Add("x").Hex(), StableHasher().Add("x").Add("").Hex());
}

TEST(StableHashTest, IntegersHashAsTheirDecimalText) {
  EXPECT_EQ(StableHasher().Add(int64_t{-1234}).Hex(), StableHasher().Add("-1234").Hex());
  EXPECT_EQ(StableHasher().Add(int64_t{LLONG_MIN}).Hex(),
            StableHasher().Add("-9223372036854775808").Hex());
}

TEST(DerivePaymentIdTest, IsPayPrefixAnd32LowerHexDigits) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = DerivePaymentId("m", "k" + std::to_string(i));
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id.substr(0, 4), "pay_");
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_NE(DerivePaymentId("m1", "k"), DerivePaymentId("m", "1k"));
}

}  // namespace
}  // namespace payorch
