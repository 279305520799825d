// Pricing and installment distribution (invoice/schedule.h): the worked example of
// docs/invoices.md, the limits, dates, and the rounding rule of the schedule.
#include "invoice/schedule.h"

#include <gtest/gtest.h>

#include <vector>

namespace payorch::invoice {
namespace {

Pricing MustPrice(const std::vector<Line>& lines, std::string_view currency, const Fee& fee) {
  Pricing p;
  auto refused = PriceLines(lines, currency, fee, &p);
  EXPECT_FALSE(refused) << refused->detail;
  return p;
}

inv::RejectReason PriceRefusal(const std::vector<Line>& lines, std::string_view currency,
                               const Fee& fee = {}) {
  Pricing p;
  auto refused = PriceLines(lines, currency, fee, &p);
  return refused ? refused->reason : inv::REJECT_REASON_UNSPECIFIED;
}

// docs/invoices.md, "Worked example".
TEST(InvoicePricingTest, WorkedExampleInRupiah) {
  const Pricing p = MustPrice({{3, 1'250'000, 1100}, {1, 99'900, 1100}}, "IDR", {500'000, 250});
  EXPECT_EQ(p.step_minor, 100);
  ASSERT_EQ(p.lines.size(), 2u);
  EXPECT_EQ(p.lines[0].net_minor, 3'750'000);
  EXPECT_EQ(p.lines[0].tax_minor, 412'500);
  EXPECT_EQ(p.lines[1].net_minor, 99'900);
  EXPECT_EQ(p.lines[1].tax_minor, 11'000);  // 10,989 half up to whole rupiah
  EXPECT_EQ(p.totals.principal_minor, 3'849'900);
  EXPECT_EQ(p.totals.tax_minor, 423'500);
  EXPECT_EQ(p.totals.fee_minor, 596'200);  // 500,000 + 96,247.5 -> 96,200
  EXPECT_EQ(p.totals.total_minor(), 4'869'600);

  std::vector<Columns> rows;
  ASSERT_FALSE(Distribute(p.totals, std::vector<uint32_t>{1, 1, 1}, p.step_minor, &rows));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (Columns{1'283'300, 141'100, 198'700}));
  EXPECT_EQ(rows[1], (Columns{1'283'300, 141'100, 198'700}));
  EXPECT_EQ(rows[2], (Columns{1'283'300, 141'300, 198'800}));  // absorbs the rounding
  EXPECT_EQ(rows[0].total_minor(), 1'623'100);
  EXPECT_EQ(rows[2].total_minor(), 1'623'400);
}

TEST(InvoicePricingTest, FeeRoundsHalfUpToTheStep) {
  EXPECT_EQ(ServiceFeeMinor(10'000, {0, 5}, 1), 5);
  EXPECT_EQ(ServiceFeeMinor(1'000, {0, 5}, 1), 1);         // 0.5 -> 1
  EXPECT_EQ(ServiceFeeMinor(999, {0, 5}, 1), 0);           // 0.4995 -> 0
  EXPECT_EQ(ServiceFeeMinor(100'000, {0, 5}, 100), 100);   // 50 -> half up to 100
  EXPECT_EQ(ServiceFeeMinor(99'900, {200, 5}, 100), 200);  // 49.95 -> 0, plus fixed
}

TEST(InvoicePricingTest, OnlyIdrMyrUsdAreAccepted) {
  EXPECT_NE(LineItemCurrency("IDR"), nullptr);
  EXPECT_NE(LineItemCurrency("MYR"), nullptr);
  EXPECT_NE(LineItemCurrency("USD"), nullptr);
  for (const char* code : {"EUR", "JPY", "idr", "", "XXX"}) {
    EXPECT_EQ(LineItemCurrency(code), nullptr) << code;
    EXPECT_EQ(PriceRefusal({{1, 100, 0}}, code), inv::REJECT_REASON_CURRENCY_NOT_ACCEPTED);
  }
}

TEST(InvoicePricingTest, RupiahAmountsMustBeWhole) {
  EXPECT_EQ(PriceRefusal({{1, 150, 0}}, "IDR"), inv::REJECT_REASON_AMOUNT_PRECISION);
  EXPECT_EQ(PriceRefusal({{1, 100, 0}}, "IDR", {50, 0}), inv::REJECT_REASON_AMOUNT_PRECISION);
  EXPECT_EQ(PriceRefusal({{1, 150, 0}}, "MYR"), inv::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(PriceRefusal({{1, 100, 0}}, "USD", {50, 0}), inv::REJECT_REASON_UNSPECIFIED);
}

TEST(InvoicePricingTest, LimitsAreRefusedWithTheirReason) {
  EXPECT_EQ(PriceRefusal({}, "USD"), inv::REJECT_REASON_LINE_ITEMS_MISSING);
  EXPECT_EQ(PriceRefusal(std::vector<Line>(kMaxLineItems + 1, {1, 1, 0}), "USD"),
            inv::REJECT_REASON_TOO_MANY_LINE_ITEMS);
  EXPECT_EQ(PriceRefusal(std::vector<Line>(kMaxLineItems, {1, 1, 0}), "USD"),
            inv::REJECT_REASON_UNSPECIFIED);
  EXPECT_EQ(PriceRefusal({{0, 1, 0}}, "USD"), inv::REJECT_REASON_QUANTITY_OUT_OF_RANGE);
  EXPECT_EQ(PriceRefusal({{kMaxLineQuantity + 1, 1, 0}}, "USD"),
            inv::REJECT_REASON_QUANTITY_OUT_OF_RANGE);
  EXPECT_EQ(PriceRefusal({{1, 0, 0}}, "USD"), inv::REJECT_REASON_AMOUNT_NOT_POSITIVE);
  EXPECT_EQ(PriceRefusal({{1, -5, 0}}, "USD"), inv::REJECT_REASON_AMOUNT_NOT_POSITIVE);
  EXPECT_EQ(PriceRefusal({{1, kMaxAmountMinor + 1, 0}}, "USD"),
            inv::REJECT_REASON_AMOUNT_TOO_LARGE);
  EXPECT_EQ(PriceRefusal({{2, kMaxAmountMinor / 2 + 1, 0}}, "USD"),
            inv::REJECT_REASON_AMOUNT_TOO_LARGE);
  EXPECT_EQ(PriceRefusal({{1, kMaxAmountMinor, 1}}, "USD"), inv::REJECT_REASON_AMOUNT_TOO_LARGE);
  EXPECT_EQ(PriceRefusal({{1, kMaxAmountMinor / 2, 0}, {1, kMaxAmountMinor / 2 + 1, 0}}, "USD"),
            inv::REJECT_REASON_AMOUNT_TOO_LARGE);
  EXPECT_EQ(PriceRefusal({{1, 1, kMaxRateBps + 1}}, "USD"),
            inv::REJECT_REASON_TAX_RATE_OUT_OF_RANGE);
  EXPECT_EQ(PriceRefusal({{1, 1, 0}}, "USD", {-1, 0}), inv::REJECT_REASON_SERVICE_FEE_INVALID);
  EXPECT_EQ(PriceRefusal({{1, 1, 0}}, "USD", {0, kMaxRateBps + 1}),
            inv::REJECT_REASON_SERVICE_FEE_INVALID);
  EXPECT_EQ(PriceRefusal({{1, 1, 0}}, "USD", {kMaxAmountMinor + 1, 0}),
            inv::REJECT_REASON_SERVICE_FEE_INVALID);
  EXPECT_EQ(PriceRefusal({{1, kMaxAmountMinor, 0}}, "USD", {1, 0}),
            inv::REJECT_REASON_AMOUNT_TOO_LARGE);
  EXPECT_EQ(PriceRefusal({{1, kMaxAmountMinor, 0}}, "USD"), inv::REJECT_REASON_UNSPECIFIED);
}

TEST(InvoiceScheduleTest, NonLastSharesRoundDownAndTheLastAbsorbs) {
  std::vector<Columns> rows;
  ASSERT_FALSE(Distribute({100, 10, 1}, std::vector<uint32_t>{1, 1, 1}, 1, &rows));
  EXPECT_EQ(rows[0], (Columns{33, 3, 0}));
  EXPECT_EQ(rows[1], (Columns{33, 3, 0}));
  EXPECT_EQ(rows[2], (Columns{34, 4, 1}));
}

TEST(InvoiceScheduleTest, WeightsSplitEveryColumnInProportion) {
  std::vector<Columns> rows;
  ASSERT_FALSE(Distribute({1'000, 110, 50}, std::vector<uint32_t>{1, 3}, 1, &rows));
  EXPECT_EQ(rows[0], (Columns{250, 27, 12}));
  EXPECT_EQ(rows[1], (Columns{750, 83, 38}));
}

TEST(InvoiceScheduleTest, AZeroInstallmentIsTooSmall) {
  std::vector<Columns> rows;
  auto refused = Distribute({2, 0, 0}, std::vector<uint32_t>{1, 1, 1}, 1, &rows);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->reason, inv::REJECT_REASON_INSTALLMENT_TOO_SMALL);
  // Rupiah: 2 rupiah over 3 installments cannot be paid in whole rupiah each.
  refused = Distribute({200, 0, 0}, std::vector<uint32_t>{1, 1, 1}, 100, &rows);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(Distribute({300, 0, 0}, std::vector<uint32_t>{1, 1, 1}, 100, &rows));
  EXPECT_EQ(rows[0].principal_minor, 100);
}

TEST(InvoiceScheduleTest, ProportionalShareUsesWideProducts) {
  // 10^15 * 10^4 overflows int64; __int128 keeps it exact.
  EXPECT_EQ(ProportionalShare(kMaxAmountMinor, 10'000, 120'000, 1), kMaxAmountMinor / 12);
  EXPECT_EQ(ProportionalShare(kMaxAmountMinor, 9'999, 10'000, 100), 999'900'000'000'000);
}

TEST(InvoiceDateTest, RealCalendarDatesOnly) {
  EXPECT_TRUE(IsValidDate({2024, 2, 29}));
  EXPECT_FALSE(IsValidDate({2023, 2, 29}));
  EXPECT_FALSE(IsValidDate({1900, 2, 29}));
  EXPECT_TRUE(IsValidDate({2000, 2, 29}));
  EXPECT_FALSE(IsValidDate({2026, 4, 31}));
  EXPECT_FALSE(IsValidDate({2026, 13, 1}));
  EXPECT_FALSE(IsValidDate({2026, 0, 1}));
  EXPECT_FALSE(IsValidDate({2026, 1, 0}));
  EXPECT_FALSE(IsValidDate({0, 1, 1}));
  EXPECT_FALSE(IsValidDate({10'000, 1, 1}));
  EXPECT_FALSE(IsValidDate({-70'000, 1, 1}));
  EXPECT_FALSE(IsValidDate({2026, 1, 4'294'967'295u}));
}

Plan MakePlan(uint32_t count, std::vector<Date> dates, std::vector<uint32_t> weights = {}) {
  return Plan{count, std::move(dates), std::move(weights)};
}

TEST(InvoicePlanTest, ChecksCountDatesAndWeights) {
  const std::vector<Date> two = {{2027, 1, 31}, {2027, 2, 28}};
  EXPECT_FALSE(CheckPlan(MakePlan(2, two)));
  EXPECT_FALSE(CheckPlan(MakePlan(2, two, {1, 10'000})));
  auto reason = [](const Plan& p) {
    auto r = CheckPlan(p);
    return r ? r->reason : inv::REJECT_REASON_UNSPECIFIED;
  };
  EXPECT_EQ(reason(MakePlan(1, {{2027, 1, 1}})), inv::REJECT_REASON_INSTALLMENT_COUNT_OUT_OF_RANGE);
  EXPECT_EQ(reason(MakePlan(13, std::vector<Date>(13, {2027, 1, 1}))),
            inv::REJECT_REASON_INSTALLMENT_COUNT_OUT_OF_RANGE);
  EXPECT_EQ(reason(MakePlan(2, {{2027, 1, 31}})), inv::REJECT_REASON_DUE_DATE_INVALID);
  EXPECT_EQ(reason(MakePlan(2, {{2027, 1, 31}, {2027, 2, 29}})),
            inv::REJECT_REASON_DUE_DATE_INVALID);
  EXPECT_EQ(reason(MakePlan(2, {{2027, 1, 31}, {2027, 1, 31}})),
            inv::REJECT_REASON_DUE_DATE_INVALID);
  EXPECT_EQ(reason(MakePlan(2, {{2027, 2, 1}, {2027, 1, 31}})),
            inv::REJECT_REASON_DUE_DATE_INVALID);
  EXPECT_EQ(reason(MakePlan(2, two, {1})), inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID);
  EXPECT_EQ(reason(MakePlan(2, two, {0, 1})), inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID);
  EXPECT_EQ(reason(MakePlan(2, two, {1, 10'001})), inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID);
}

}  // namespace
}  // namespace payorch::invoice
