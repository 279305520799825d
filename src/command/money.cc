#include "command/money.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace payorch {
namespace {

// ISO 4217 active codes and their minor units (exponents), sorted by code.
constexpr std::array kCurrencies = std::to_array<CurrencyInfo>({
    {"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2}, {"AUD", 2},
    {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2}, {"BHD", 3}, {"BIF", 0},
    {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BRL", 2}, {"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2},
    {"BZD", 2}, {"CAD", 2}, {"CDF", 2}, {"CHF", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2},
    {"CRC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0}, {"DKK", 2}, {"DOP", 2}, {"DZD", 2},
    {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2}, {"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2},
    {"GHS", 2}, {"GIP", 2}, {"GMD", 2}, {"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2},
    {"HTG", 2}, {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0},
    {"JMD", 2}, {"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2},
    {"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2}, {"LRD", 2},
    {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 2}, {"MKD", 2}, {"MMK", 2}, {"MNT", 2},
    {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2}, {"MXN", 2}, {"MYR", 2}, {"MZN", 2},
    {"NAD", 2}, {"NGN", 2}, {"NIO", 2}, {"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2},
    {"PEN", 2}, {"PGK", 2}, {"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2},
    {"RSD", 2}, {"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2},
    {"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2}, {"STN", 2}, {"SVC", 2},
    {"SYP", 2}, {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2}, {"TND", 3}, {"TOP", 2}, {"TRY", 2},
    {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2}, {"UGX", 0}, {"USD", 2}, {"UYI", 0}, {"UYU", 2},
    {"UYW", 4}, {"UZS", 2}, {"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0},
    {"XCD", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWL", 2},
});

static_assert(std::is_sorted(kCurrencies.begin(), kCurrencies.end(),
                             [](const CurrencyInfo& a, const CurrencyInfo& b) {
                               return a.code < b.code;
                             }));

// Three upper-case letters as one integer, in code order.
constexpr uint32_t Pack(std::string_view code) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(code[0])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(code[1])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(code[2]));
}

constexpr auto kPackedCodes = [] {
  std::array<uint32_t, kCurrencies.size()> packed{};
  for (size_t i = 0; i < kCurrencies.size(); ++i) packed[i] = Pack(kCurrencies[i].code);
  return packed;
}();

}  // namespace

const CurrencyInfo* FindCurrency(std::string_view code) {
  if (code.size() != 3) return nullptr;  // every code is three letters
  const uint32_t key = Pack(code);
  auto it = std::lower_bound(kPackedCodes.begin(), kPackedCodes.end(), key);
  if (it == kPackedCodes.end() || *it != key) return nullptr;
  return &kCurrencies[static_cast<size_t>(it - kPackedCodes.begin())];
}

int64_t SettlementStepMinor(const CurrencyInfo& currency) {
  return currency.code == "IDR" ? 100 : 1;
}

LineProblem CheckLine(int64_t quantity, int64_t unit_price_minor, uint32_t tax_rate_bps,
                      int64_t step_minor) {
  if (quantity < 1 || quantity > kMaxLineQuantity) return LineProblem::kQuantityOutOfRange;
  if (unit_price_minor <= 0) return LineProblem::kUnitPriceNotPositive;
  if (unit_price_minor > kMaxAmountMinor) return LineProblem::kUnitPriceTooLarge;
  if (step_minor > 0 && unit_price_minor % step_minor != 0) return LineProblem::kPrecision;
  if (tax_rate_bps > kMaxRateBps) return LineProblem::kTaxRateOutOfRange;
  return LineProblem::kNone;
}

const CurrencyInfo* LineItemCurrency(std::string_view code) {
  if (code != "IDR" && code != "MYR" && code != "USD") return nullptr;
  return FindCurrency(code);
}

int64_t RateHalfUp(int64_t amount_minor, uint32_t rate_bps, int64_t step_minor) {
  // amount <= 10^15 and rate <= 10^4: the product fits in 128 bits with room to spare.
  const __int128 scaled = static_cast<__int128>(amount_minor) * rate_bps;  // result * 10^4
  const __int128 unit = static_cast<__int128>(step_minor) * 10'000;
  return static_cast<int64_t>((scaled + unit / 2) / unit * step_minor);
}

std::optional<PricedLine> PriceLine(int64_t quantity, int64_t unit_price_minor,
                                    uint32_t tax_rate_bps, int64_t step_minor) {
  if (quantity <= 0 || unit_price_minor <= 0 || tax_rate_bps > 10'000 || step_minor <= 0) {
    return std::nullopt;
  }
  int64_t net = 0;
  if (__builtin_mul_overflow(quantity, unit_price_minor, &net) || net > kMaxAmountMinor) {
    return std::nullopt;
  }
  const int64_t tax = RateHalfUp(net, tax_rate_bps, step_minor);
  if (tax > kMaxAmountMinor) return std::nullopt;
  return PricedLine{net, tax};
}

std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::string FormatMinor(int64_t amount_minor, const CurrencyInfo& currency) {
  // Work in unsigned magnitude so INT64_MIN formats correctly.
  const bool negative = amount_minor < 0;
  uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(amount_minor) : static_cast<uint64_t>(amount_minor);
  std::string digits = std::to_string(magnitude);
  const auto exp = static_cast<size_t>(currency.exponent);
  if (exp > 0) {
    if (digits.size() <= exp) digits.insert(0, exp - digits.size() + 1, '0');
    digits.insert(digits.size() - exp, 1, '.');
  }
  return negative ? "-" + digits : digits;
}

}  // namespace payorch
