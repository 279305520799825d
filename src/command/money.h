// Money in int64 minor units with ISO 4217 exponents. No floating point anywhere.
//
//   auto c = FindCurrency("KWD");        // exponent 3
//   auto sum = CheckedAdd(a, b);         // std::nullopt on overflow
//   FormatMinor(12345, *c)  -> "12.345"
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payorch {

struct CurrencyInfo {
  std::string_view code;  // upper-case ISO 4217 alphabetic code
  int exponent;           // minor unit digits: JPY 0, USD 2, KWD 3
};

// Looks up an upper-case ISO 4217 code. Returns nullptr for unknown codes.
const CurrencyInfo* FindCurrency(std::string_view code);

// The smallest amount processors settle in `currency`, in minor units: 1 for most, 100
// for IDR, which keeps ISO 4217's two decimals but is paid in whole rupiah (seed 003).
// Amounts of that currency must be multiples of it.
int64_t SettlementStepMinor(const CurrencyInfo& currency);

// Largest amount any payment may carry, in minor units, whatever the currency:
// 10^15 minor units (10 trillion USD). Merchants may set a lower bound.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;

[[nodiscard]] std::optional<int64_t> CheckedAdd(int64_t a, int64_t b);
[[nodiscard]] std::optional<int64_t> CheckedSub(int64_t a, int64_t b);

// amount * rate_bps / 10^4, rounded half up to a multiple of step_minor: the one rounding
// of taxes and rate fees. Requires 0 <= amount <= kMaxAmountMinor, rate <= 10^4, step > 0
// (a 128-bit intermediate; the result is at most the amount).
[[nodiscard]] int64_t RateHalfUp(int64_t amount_minor, uint32_t rate_bps, int64_t step_minor);

// One priced line of an order or invoice: net = quantity * unit price, tax = net * rate,
// rounded half up to the currency's settlement step (whole rupiah for IDR), so a line's
// tax is always payable. The one definition of line pricing: invoices and orders call it.
struct PricedLine {
  int64_t net_minor = 0;
  int64_t tax_minor = 0;
};
// std::nullopt when quantity or unit price is not positive, the rate is over 10000 basis
// points, or the net amount or tax exceeds kMaxAmountMinor.
[[nodiscard]] std::optional<PricedLine> PriceLine(int64_t quantity, int64_t unit_price_minor,
                                                  uint32_t tax_rate_bps, int64_t step_minor);

// The rules every line of an order or invoice passes (seeds 003 and 004), shared so both
// aggregates refuse the same line the same way. Checked in this order; the first that
// fails is the problem.
inline constexpr size_t kMaxLineItems = 100;
inline constexpr int64_t kMaxLineQuantity = 1'000'000;
inline constexpr uint32_t kMaxRateBps = 10'000;  // tax and fee rates: 0 to 100%
enum class LineProblem {
  kNone,
  kQuantityOutOfRange,    // not 1 to kMaxLineQuantity
  kUnitPriceNotPositive,  // <= 0
  kUnitPriceTooLarge,     // > kMaxAmountMinor
  kPrecision,             // unit price not a multiple of the settlement step
  kTaxRateOutOfRange,     // > kMaxRateBps
};
[[nodiscard]] LineProblem CheckLine(int64_t quantity, int64_t unit_price_minor,
                                    uint32_t tax_rate_bps, int64_t step_minor);

// One line of an order or invoice as the merchant sent it, with its price (PriceLine):
// the state both aggregates keep per line.
struct PricedLineItem {
  std::string product_id;
  std::string description;
  int64_t quantity = 0;
  int64_t unit_price_minor = 0;
  uint32_t tax_rate_bps = 0;
  int64_t net_minor = 0;
  int64_t tax_minor = 0;
  bool operator==(const PricedLineItem&) const = default;
};

// The currencies orders and invoices accept (seed 003): IDR, MYR and USD. nullptr for any
// other code.
const CurrencyInfo* LineItemCurrency(std::string_view code);

// "12.34" for 1234 USD, "1234" for JPY, "-0.005" for -5 KWD.
std::string FormatMinor(int64_t amount_minor, const CurrencyInfo& currency);

}  // namespace payorch
