#include "projection/internal/time.h"

#include <chrono>
#include <cstdio>

namespace payorch::projection::internal {

namespace {

namespace chr = std::chrono;

// The UTC day a time falls in (floor: a time before 1970 falls in the day before).
chr::sys_days DayOf(int64_t ms) {
  return chr::floor<chr::days>(chr::sys_time<chr::milliseconds>(chr::milliseconds(ms)));
}

bool Digits(std::string_view text, size_t pos, size_t n, int64_t* out) {
  if (pos + n > text.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<int64_t> DatePrefix(std::string_view text) {
  int64_t y = 0, m = 0, d = 0;
  if (text.size() < 10 || text[4] != '-' || text[7] != '-' || !Digits(text, 0, 4, &y) ||
      !Digits(text, 5, 2, &m) || !Digits(text, 8, 2, &d)) {
    return std::nullopt;
  }
  const chr::year_month_day date{chr::year(static_cast<int>(y)),
                                 chr::month(static_cast<unsigned>(m)),
                                 chr::day(static_cast<unsigned>(d))};
  if (!date.ok()) return std::nullopt;
  return chr::duration_cast<chr::milliseconds>(chr::sys_days(date).time_since_epoch()).count();
}

}  // namespace

std::string UtcDate(int64_t ms) {
  const chr::year_month_day date{DayOf(ms)};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buf;
}

std::string UtcTimestamp(int64_t ms) {
  const chr::sys_time<chr::milliseconds> t{chr::milliseconds(ms)};
  const chr::hh_mm_ss<chr::milliseconds> in_day{t - DayOf(ms)};
  char buf[48];
  std::snprintf(
      buf, sizeof buf, "%sT%02d:%02d:%02d.%03dZ", UtcDate(ms).c_str(),
      static_cast<int>(in_day.hours().count()), static_cast<int>(in_day.minutes().count()),
      static_cast<int>(in_day.seconds().count()), static_cast<int>(in_day.subseconds().count()));
  return buf;
}

std::optional<int64_t> ParseDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  return DatePrefix(text);
}

std::optional<int64_t> ParseTime(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  if (text.find('-') == std::string_view::npos || text.front() == '-') {
    if (text.front() == '-') return std::nullopt;
    int64_t v = 0;
    if (text.size() > 15 || !Digits(text, 0, text.size(), &v)) return std::nullopt;
    return v;
  }
  std::optional<int64_t> day = DatePrefix(text);
  if (!day) return std::nullopt;
  if (text.size() == 10) return day;
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  int64_t hh = 0, mm = 0, ss = 0;
  if (text.size() < 20 || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':' || !Digits(text, 11, 2, &hh) || !Digits(text, 14, 2, &mm) ||
      !Digits(text, 17, 2, &ss) || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 3; ++i) frac_ms *= 10;
  }
  if (pos + 1 != text.size() || (text[pos] != 'Z' && text[pos] != 'z')) return std::nullopt;
  return *day + ((hh * 60 + mm) * 60 + ss) * 1000 + frac_ms;
}

}  // namespace payorch::projection::internal
