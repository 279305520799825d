// Pricing and the installment schedule (schedule.h).
#include "invoice/schedule.h"

#include <chrono>
#include <numeric>

namespace payorch::invoice {
namespace {

std::optional<Refusal> Refuse(inv::RejectReason reason, std::string detail) {
  return Refusal{reason, std::move(detail)};
}

std::string LineLabel(size_t index) { return "line_items[" + std::to_string(index) + "]"; }

std::optional<Refusal> CheckLine(const Line& line, size_t index, int64_t step_minor) {
  const std::string label = LineLabel(index);
  switch (payorch::CheckLine(line.quantity, line.unit_price_minor, line.tax_rate_bps, step_minor)) {
    case LineProblem::kNone:
      return std::nullopt;
    case LineProblem::kQuantityOutOfRange:
      return Refuse(inv::REJECT_REASON_QUANTITY_OUT_OF_RANGE,
                    label + ": quantity must be 1 to " + std::to_string(kMaxLineQuantity));
    case LineProblem::kUnitPriceNotPositive:
      return Refuse(inv::REJECT_REASON_AMOUNT_NOT_POSITIVE,
                    label + ": unit price must be positive");
    case LineProblem::kUnitPriceTooLarge:
      return Refuse(inv::REJECT_REASON_AMOUNT_TOO_LARGE, label + ": unit price too large");
    case LineProblem::kPrecision:
      return Refuse(inv::REJECT_REASON_AMOUNT_PRECISION,
                    label + ": unit price must be a multiple of " + std::to_string(step_minor));
    case LineProblem::kTaxRateOutOfRange:
      return Refuse(inv::REJECT_REASON_TAX_RATE_OUT_OF_RANGE,
                    label + ": tax rate must be 0 to 10000 basis points");
  }
  return std::nullopt;
}

std::optional<Refusal> CheckFee(const Fee& fee, int64_t step_minor) {
  if (fee.fixed_minor < 0 || fee.fixed_minor > kMaxAmountMinor || fee.rate_bps > kMaxRateBps) {
    return Refuse(inv::REJECT_REASON_SERVICE_FEE_INVALID,
                  "service fee: fixed must be 0 to 10^15, rate 0 to 10000 basis points");
  }
  if (fee.fixed_minor % step_minor != 0) {
    return Refuse(inv::REJECT_REASON_AMOUNT_PRECISION,
                  "service fee: fixed must be a multiple of " + std::to_string(step_minor));
  }
  return std::nullopt;
}

std::optional<Refusal> TooLarge(const std::string& what) {
  return Refuse(inv::REJECT_REASON_AMOUNT_TOO_LARGE, what + " exceeds 10^15 minor units");
}

}  // namespace

bool IsValidDate(const Date& date) {
  if (date.year < kMinYear || date.year > kMaxYear || date.month < 1 || date.month > 12 ||
      date.day < 1 || date.day > 31) {
    return false;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{date.year},
                                        std::chrono::month{date.month}, std::chrono::day{date.day}};
  return ymd.ok();
}

std::optional<Refusal> PriceLines(std::span<const Line> lines, std::string_view currency,
                                  const Fee& fee, Pricing* out) {
  const CurrencyInfo* info = LineItemCurrency(currency);
  if (info == nullptr) {
    return Refuse(inv::REJECT_REASON_CURRENCY_NOT_ACCEPTED,
                  "currency '" + std::string(currency) + "' is not accepted: IDR, MYR or USD");
  }
  if (lines.empty()) return Refuse(inv::REJECT_REASON_LINE_ITEMS_MISSING, "no line items");
  if (lines.size() > kMaxLineItems) {
    return Refuse(inv::REJECT_REASON_TOO_MANY_LINE_ITEMS,
                  "at most " + std::to_string(kMaxLineItems) + " line items");
  }
  const int64_t step = SettlementStepMinor(*info);
  Pricing p;
  p.step_minor = step;
  p.lines.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (auto refused = CheckLine(lines[i], i, step)) return refused;
    const auto priced =
        PriceLine(lines[i].quantity, lines[i].unit_price_minor, lines[i].tax_rate_bps, step);
    if (!priced) return TooLarge(LineLabel(i));
    p.lines.push_back(*priced);
    // Each term <= 10^15 and at most 100 lines: the sums stay far below int64's range.
    p.totals.principal_minor += priced->net_minor;
    p.totals.tax_minor += priced->tax_minor;
    if (p.totals.principal_minor > kMaxAmountMinor) return TooLarge("subtotal");
    if (p.totals.tax_minor > kMaxAmountMinor) return TooLarge("tax");
  }
  if (auto refused = CheckFee(fee, step)) return refused;
  p.totals.fee_minor = ServiceFeeMinor(p.totals.principal_minor, fee, step);
  if (p.totals.fee_minor > kMaxAmountMinor) return TooLarge("service fee");
  if (p.totals.total_minor() > kMaxAmountMinor) return TooLarge("total");
  *out = std::move(p);
  return std::nullopt;
}

int64_t ServiceFeeMinor(int64_t subtotal_minor, const Fee& fee, int64_t step_minor) {
  return fee.fixed_minor + RateHalfUp(subtotal_minor, fee.rate_bps, step_minor);
}

int64_t ProportionalShare(int64_t column_minor, uint32_t weight, uint64_t weight_sum,
                          int64_t step_minor) {
  const __int128 scaled = static_cast<__int128>(column_minor) * weight;
  const __int128 unit = static_cast<__int128>(weight_sum) * step_minor;
  return static_cast<int64_t>(scaled / unit * step_minor);  // non-negative: floor
}

std::optional<Refusal> Distribute(const Columns& totals, std::span<const uint32_t> weights,
                                  int64_t step_minor, std::vector<Columns>* out) {
  const uint64_t weight_sum = std::accumulate(weights.begin(), weights.end(), uint64_t{0});
  std::vector<Columns> rows(weights.size());
  Columns given;  // to every installment but the last
  for (size_t i = 0; i + 1 < weights.size(); ++i) {
    rows[i].principal_minor =
        ProportionalShare(totals.principal_minor, weights[i], weight_sum, step_minor);
    rows[i].tax_minor = ProportionalShare(totals.tax_minor, weights[i], weight_sum, step_minor);
    rows[i].fee_minor = ProportionalShare(totals.fee_minor, weights[i], weight_sum, step_minor);
    given.principal_minor += rows[i].principal_minor;
    given.tax_minor += rows[i].tax_minor;
    given.fee_minor += rows[i].fee_minor;
  }
  // Each share is at most its exact proportion, so the rest is at least the last's.
  rows.back().principal_minor = totals.principal_minor - given.principal_minor;
  rows.back().tax_minor = totals.tax_minor - given.tax_minor;
  rows.back().fee_minor = totals.fee_minor - given.fee_minor;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].total_minor() == 0) {
      return Refuse(inv::REJECT_REASON_INSTALLMENT_TOO_SMALL,
                    "installment " + std::to_string(i + 1) + " would be zero");
    }
  }
  *out = std::move(rows);
  return std::nullopt;
}

std::optional<Refusal> CheckPlan(const Plan& plan) {
  if (plan.count < kMinInstallments || plan.count > kMaxInstallments) {
    return Refuse(inv::REJECT_REASON_INSTALLMENT_COUNT_OUT_OF_RANGE,
                  "installment count must be 2 to 12");
  }
  if (plan.due_dates.size() != plan.count) {
    return Refuse(inv::REJECT_REASON_DUE_DATE_INVALID, "one due date per installment");
  }
  for (size_t i = 0; i < plan.due_dates.size(); ++i) {
    if (!IsValidDate(plan.due_dates[i])) {
      return Refuse(inv::REJECT_REASON_DUE_DATE_INVALID,
                    "due_dates[" + std::to_string(i) + "] is not a calendar date");
    }
    if (i > 0 && !(plan.due_dates[i - 1] < plan.due_dates[i])) {
      return Refuse(inv::REJECT_REASON_DUE_DATE_INVALID, "due dates must strictly increase");
    }
  }
  if (!plan.weights.empty()) {
    if (plan.weights.size() != plan.count) {
      return Refuse(inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID, "one weight per installment");
    }
    for (uint32_t w : plan.weights) {
      if (w < 1 || w > kMaxInstallmentWeight) {
        return Refuse(inv::REJECT_REASON_INSTALLMENT_WEIGHT_INVALID,
                      "weights must be 1 to " + std::to_string(kMaxInstallmentWeight));
      }
    }
  }
  return std::nullopt;
}

std::optional<Refusal> BuildSchedule(const Pricing& pricing, const std::optional<Plan>& plan,
                                     const std::optional<Date>& single_due_date,
                                     std::vector<ScheduledInstallment>* out) {
  std::vector<ScheduledInstallment> rows;
  if (!plan) {
    rows.push_back({1, single_due_date, pricing.totals});
    *out = std::move(rows);
    return std::nullopt;
  }
  std::vector<uint32_t> weights = plan->weights;
  if (weights.empty()) weights.assign(plan->count, 1);
  std::vector<Columns> columns;
  if (auto refused = Distribute(pricing.totals, weights, pricing.step_minor, &columns)) {
    return refused;
  }
  for (uint32_t i = 0; i < plan->count; ++i) {
    rows.push_back({i + 1, plan->due_dates[i], columns[i]});
  }
  *out = std::move(rows);
  return std::nullopt;
}

}  // namespace payorch::invoice
