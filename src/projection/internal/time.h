// UTC calendar arithmetic for daily totals and query parameters, on C++20 <chrono>
// (year_month_day, sys_days, hh_mm_ss): no time zone database, no clock, pure functions of
// their input. Only the text formats are written here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace payorch::projection::internal {

// "YYYY-MM-DD" of a time in milliseconds since the Unix epoch, in UTC.
std::string UtcDate(int64_t ms);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" of a time in milliseconds since the Unix epoch, in UTC.
std::string UtcTimestamp(int64_t ms);

// Milliseconds at 00:00 UTC of "YYYY-MM-DD"; nullopt unless a valid calendar date.
std::optional<int64_t> ParseDate(std::string_view text);

// A time parameter: integer milliseconds since the epoch, "YYYY-MM-DD" (00:00 UTC) or
// RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fff]Z". nullopt otherwise.
std::optional<int64_t> ParseTime(std::string_view text);

}  // namespace payorch::projection::internal
