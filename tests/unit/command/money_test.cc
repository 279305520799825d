// Money: ISO 4217 exponents, checked arithmetic and formatting of minor units.
#include "command/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace payorch {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

struct ExponentCase {
  const char* code;
  int exponent;
};

class CurrencyExponentTest : public ::testing::TestWithParam<ExponentCase> {};

TEST_P(CurrencyExponentTest, KnownCodeHasItsIsoExponent) {
  const CurrencyInfo* c = FindCurrency(GetParam().code);
  ASSERT_NE(c, nullptr) << GetParam().code;
  EXPECT_EQ(c->code, GetParam().code);
  EXPECT_EQ(c->exponent, GetParam().exponent);
}

INSTANTIATE_TEST_SUITE_P(Iso4217, CurrencyExponentTest,
                         ::testing::Values(ExponentCase{"JPY", 0}, ExponentCase{"KRW", 0},
                                           ExponentCase{"USD", 2}, ExponentCase{"EUR", 2},
                                           ExponentCase{"IDR", 2}, ExponentCase{"KWD", 3},
                                           ExponentCase{"BHD", 3}, ExponentCase{"TND", 3},
                                           ExponentCase{"CLF", 4}, ExponentCase{"UYW", 4},
                                           ExponentCase{"AED", 2}, ExponentCase{"ZWL", 2}),
                         [](const auto& info) { return std::string(info.param.code); });

TEST(CurrencyTest, UnknownOrMalformedCodesAreNotFound) {
  for (const char* code : {"", "US", "USDD", "usd", "Usd", "XXX", "ABC", "US ", " USD", "EU R"}) {
    EXPECT_EQ(FindCurrency(code), nullptr) << "'" << code << "'";
  }
}

struct AddCase {
  int64_t a, b;
  std::optional<int64_t> sum, difference;
};

TEST(CheckedArithmeticTest, OverflowIsAnEmptyResultNotUndefinedBehaviour) {
  const AddCase cases[] = {
      {1, 2, 3, -1},
      {kMax, 0, kMax, kMax},
      {kMax, 1, std::nullopt, kMax - 1},
      {kMin, -1, std::nullopt, kMin + 1},
      {kMin, 1, kMin + 1, std::nullopt},
      {0, kMin, kMin, std::nullopt},  // 0 - INT64_MIN does not fit
      {-1, kMin, std::nullopt, kMax},
      {kMax, kMax, std::nullopt, 0},
      {kMax, kMin, -1, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CheckedAdd(c.a, c.b), c.sum) << c.a << " + " << c.b;
    EXPECT_EQ(CheckedSub(c.a, c.b), c.difference) << c.a << " - " << c.b;
  }
}

TEST(MaxAmountTest, IsTenToTheFifteenMinorUnits) {
  EXPECT_EQ(kMaxAmountMinor, 1'000'000'000'000'000);
  // Any two accepted amounts add without overflow.
  EXPECT_TRUE(CheckedAdd(kMaxAmountMinor, kMaxAmountMinor).has_value());
}

struct FormatCase {
  int64_t amount;
  const char* currency;
  const char* text;
};

TEST(FormatMinorTest, PlacesTheDecimalPointByExponent) {
  const FormatCase cases[] = {
      {1234, "USD", "12.34"},
      {5, "USD", "0.05"},
      {0, "USD", "0.00"},
      {100, "USD", "1.00"},
      {-1234, "USD", "-12.34"},
      {-5, "KWD", "-0.005"},
      {12345, "KWD", "12.345"},
      {1234, "JPY", "1234"},
      {0, "JPY", "0"},
      {-7, "JPY", "-7"},
      {1, "CLF", "0.0001"},
      {123456, "CLF", "12.3456"},
      {kMax, "USD", "92233720368547758.07"},
      {kMin, "USD", "-92233720368547758.08"},
      {kMin, "JPY", "-9223372036854775808"},
      {kMin, "CLF", "-922337203685477.5808"},
      {kMaxAmountMinor, "USD", "10000000000000.00"},
  };
  for (const auto& c : cases) {
    const CurrencyInfo* info = FindCurrency(c.currency);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(FormatMinor(c.amount, *info), c.text) << c.amount << " " << c.currency;
  }
}

// Seed 003: IDR keeps two ISO decimals but is settled in whole rupiah; others per unit.
TEST(SettlementStep, IdrIsWholeRupiahOthersAreOneMinorUnit) {
  EXPECT_EQ(SettlementStepMinor(*FindCurrency("IDR")), 100);
  for (const char* code : {"USD", "MYR", "JPY", "KWD", "EUR"}) {
    EXPECT_EQ(SettlementStepMinor(*FindCurrency(code)), 1) << code;
  }
}

// Line pricing: net = quantity * unit; tax rounded half up to the settlement step.
TEST(PriceLine, TaxIsRoundedHalfUpToTheSettlementStep) {
  // 3 x 333 at 10%: net 999, tax 99.9 -> 100.
  EXPECT_EQ(PriceLine(3, 333, 1000, 1)->net_minor, 999);
  EXPECT_EQ(PriceLine(3, 333, 1000, 1)->tax_minor, 100);
  // 1 x 5 at 10%: tax 0.5 -> 1 (half up); 1 x 4: 0.4 -> 0.
  EXPECT_EQ(PriceLine(1, 5, 1000, 1)->tax_minor, 1);
  EXPECT_EQ(PriceLine(1, 4, 1000, 1)->tax_minor, 0);
  // IDR 150 rupiah (15000 minor) at 11%: 16.5 rupiah -> 17 rupiah = 1700 minor.
  EXPECT_EQ(PriceLine(1, 15'000, 1100, 100)->tax_minor, 1'700);
  // IDR 10 rupiah at 11%: 1.1 rupiah -> 1 rupiah.
  EXPECT_EQ(PriceLine(1, 1'000, 1100, 100)->tax_minor, 100);
  EXPECT_EQ(PriceLine(2, 1'000, 0, 100)->tax_minor, 0);
}

TEST(PriceLine, RefusesWhatCannotBePriced) {
  EXPECT_FALSE(PriceLine(0, 100, 0, 1));
  EXPECT_FALSE(PriceLine(1, 0, 0, 1));
  EXPECT_FALSE(PriceLine(-1, 100, 0, 1));
  EXPECT_FALSE(PriceLine(1, 100, 10'001, 1));
  EXPECT_FALSE(PriceLine(std::numeric_limits<int64_t>::max(), 2, 0, 1));
  EXPECT_FALSE(PriceLine(kMaxAmountMinor, 2, 0, 1));
  // Largest net with the largest rate: tax equals net, both at the bound.
  const auto max = PriceLine(1, kMaxAmountMinor, 10'000, 1);
  ASSERT_TRUE(max);
  EXPECT_EQ(max->tax_minor, kMaxAmountMinor);
}

}  // namespace
}  // namespace payorch
