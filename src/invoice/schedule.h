// Invoice arithmetic as plain functions on plain structs: pricing line items, the service
// fee, the installment schedule. No protobuf messages in or out (only the RejectReason
// enum, the contract's name for a refusal), no I/O; decide (invoice.h) calls these.
//
//   invoice::Pricing p;
//   if (auto refused = invoice::PriceLines(lines, "IDR", fee, &p)) return Reject(*refused);
//   std::vector<invoice::Columns> rows;
//   if (auto refused = invoice::Distribute(p.totals, weights, p.step_minor, &rows)) ...
//
// Rounding (docs/invoices.md has a worked example), all in int64 minor units with __int128
// products, no floating point:
//   line tax     = net * rate_bps / 10^4, half up to the settlement step (payorch::PriceLine)
//   service fee  = fixed + subtotal * rate_bps / 10^4, half up to the settlement step
//   installment  i < n: column * w_i / sum(w), rounded DOWN to the settlement step;
//                i = n: column - the others (the last absorbs the rounding, never negative)
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command/money.h"
#include "payments/invoices/v1/invoices.pb.h"

namespace payorch::invoice {

namespace inv = ::payments::invoices::v1;

// Limits (docs/invoices.md, limits). Money bounds are payorch::kMaxAmountMinor (10^15).
// The line limits (kMaxLineItems, kMaxLineQuantity, kMaxRateBps) are the core's
// (command/money.h), shared with orders.
inline constexpr uint32_t kMinInstallments = 2;
inline constexpr uint32_t kMaxInstallments = 12;
inline constexpr uint32_t kMaxInstallmentWeight = 10'000;
inline constexpr int32_t kMinYear = 1;
inline constexpr int32_t kMaxYear = 9999;

// Why an input is refused: the contract's reason and a sentence for the merchant.
struct Refusal {
  inv::RejectReason reason = inv::REJECT_REASON_UNSPECIFIED;
  std::string detail;
};

struct Line {
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
  uint32_t tax_rate_bps = 0;
};

struct Fee {
  int64_t fixed_minor = 0;
  uint32_t rate_bps = 0;
  bool operator==(const Fee&) const = default;
};

struct Date {
  int32_t year = 0;
  uint32_t month = 0;
  uint32_t day = 0;
  auto operator<=>(const Date&) const = default;  // NOLINT(modernize-use-nullptr): tidy 14 bug
};

// A real proleptic Gregorian date (std::chrono::year_month_day::ok()) with a year in
// [kMinYear, kMaxYear].
[[nodiscard]] bool IsValidDate(const Date& date);

// The three columns of an invoice or of one installment, in minor units.
struct Columns {
  int64_t principal_minor = 0;  // the subtotal: line nets
  int64_t tax_minor = 0;
  int64_t fee_minor = 0;
  int64_t total_minor() const { return principal_minor + tax_minor + fee_minor; }
  bool operator==(const Columns&) const = default;
};

struct Pricing {
  int64_t step_minor = 1;  // the currency's settlement step: 100 for IDR, else 1
  std::vector<PricedLine> lines;
  Columns totals;  // principal = subtotal; total_minor() <= kMaxAmountMinor
};

// Checks and prices `lines` in `currency` with `fee`. Refusals, in order: currency not
// accepted; no lines or more than kMaxLineItems; per line quantity out of [1, kMaxLineQuantity],
// unit price not positive, over kMaxAmountMinor or (IDR) not a multiple of 100, tax rate
// over kMaxRateBps; fee fixed negative, over kMaxAmountMinor, rate over kMaxRateBps
// (SERVICE_FEE_INVALID) or (IDR) fixed not a multiple of 100; any amount over
// kMaxAmountMinor (AMOUNT_TOO_LARGE).
[[nodiscard]] std::optional<Refusal> PriceLines(std::span<const Line> lines,
                                                std::string_view currency, const Fee& fee,
                                                Pricing* out);

// fixed + subtotal * rate / 10^4 half up to `step_minor`. Inputs already checked.
[[nodiscard]] int64_t ServiceFeeMinor(int64_t subtotal_minor, const Fee& fee, int64_t step_minor);

// column * weight / weight_sum rounded down to `step_minor`: the share of every installment
// but the last. 0 <= column <= kMaxAmountMinor, 0 < weight <= weight_sum.
[[nodiscard]] int64_t ProportionalShare(int64_t column_minor, uint32_t weight, uint64_t weight_sum,
                                        int64_t step_minor);

// Splits each column of `totals` over weights.size() installments in proportion to the
// weights (ProportionalShare for all but the last, the rest to the last). Every column
// sums exactly to `totals`' and every share is a multiple of `step_minor` when the column
// is. INSTALLMENT_TOO_SMALL when some installment's total would be zero.
[[nodiscard]] std::optional<Refusal> Distribute(const Columns& totals,
                                                std::span<const uint32_t> weights,
                                                int64_t step_minor, std::vector<Columns>* out);

// An installment plan as requested.
struct Plan {
  uint32_t count = 0;
  std::vector<Date> due_dates;
  std::vector<uint32_t> weights;  // empty: equal
  bool operator==(const Plan&) const = default;
};

// count in [kMinInstallments, kMaxInstallments] (INSTALLMENT_COUNT_OUT_OF_RANGE); exactly
// `count` valid, strictly increasing due dates (DUE_DATE_INVALID); weights empty or
// `count` of them in [1, kMaxInstallmentWeight] (INSTALLMENT_WEIGHT_INVALID).
[[nodiscard]] std::optional<Refusal> CheckPlan(const Plan& plan);

// One row of a schedule.
struct ScheduledInstallment {
  uint32_t number = 0;  // 1-based
  std::optional<Date> due_date;
  Columns columns;
  bool operator==(const ScheduledInstallment&) const = default;
};

// The schedule of a priced invoice: one installment (due `single_due_date`) without a
// plan, else Distribute over the plan's weights (all 1 when empty) with its due dates.
// `plan` must have passed CheckPlan.
[[nodiscard]] std::optional<Refusal> BuildSchedule(const Pricing& pricing,
                                                   const std::optional<Plan>& plan,
                                                   const std::optional<Date>& single_due_date,
                                                   std::vector<ScheduledInstallment>* out);

}  // namespace payorch::invoice
