// Text helpers of the HTTP server: header names, query strings, request ids. Internal to
// src/http.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace payorch::http::internal {

// ASCII case-insensitive equality (header names).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// `s` without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view s);

// %XX decoding; '+' is a space when `plus_is_space` (query strings, not paths).
std::string PercentDecode(std::string_view in, bool plus_is_space);

// Adds the decoded name=value pairs of a query string to *out.
void ParseQuery(std::string_view text, std::multimap<std::string, std::string>* out);

// Whether a client-sent Request-Id may be echoed (short, printable, no separators).
bool SaneRequestId(std::string_view id);

}  // namespace payorch::http::internal
