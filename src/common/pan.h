#pragma once

// The one rule for "this text holds a card number" (PAN): the parser refuses or redacts
// such values (command::LooksLikePan, RedactPan, IsCardNumberKey) and the log formatters
// mask them (metrics::RedactPans). Both call FindPan.

#include <cstddef>
#include <optional>
#include <string_view>

namespace payorch {

// A card number inside a text: bytes [begin, end), from its first digit to its last.
struct PanSpan {
  size_t begin = 0;
  size_t end = 0;
};

namespace pan_internal {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A separator inside a run of digit groups: one space or dash between two digits.
inline bool IsGroupSeparator(std::string_view text, size_t i) {
  return (text[i] == ' ' || text[i] == '-') && i > 0 && IsDigit(text[i - 1]) &&
         i + 1 < text.size() && IsDigit(text[i + 1]);
}

// Luhn over the digits of text[begin, end) (separators skipped).
inline bool LuhnValid(std::string_view text, size_t begin, size_t end) {
  int sum = 0;
  bool twice = false;
  for (size_t k = end; k-- > begin;) {
    if (!IsDigit(text[k])) continue;
    int d = text[k] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

}  // namespace pan_internal

// The first card number in `text` at or after byte `from`. A card number is 13 to 19
// digits that pass the Luhn check, written in one run of digit groups joined by single
// spaces or dashes, starting and ending at group edges: "4111 1111 1111 1111 12/29" and
// "order 12 4111-1111-1111-1111" hold one, "4111111111111112" does not. From the earliest
// group that starts a card number, the longest such span is the one found. Allocates
// nothing; each group is the start of at most 19 digits' work.
inline std::optional<PanSpan> FindPan(std::string_view text, size_t from = 0) {
  using pan_internal::IsDigit;
  for (size_t start = from; start < text.size(); ++start) {
    // Candidates start at a group's first digit.
    if (!IsDigit(text[start]) || (start > 0 && IsDigit(text[start - 1]))) continue;
    std::optional<PanSpan> longest;
    size_t digits = 0;
    for (size_t j = start; j < text.size() && digits <= 19; ++j) {
      if (IsDigit(text[j])) {
        ++digits;
        const bool group_ends = j + 1 == text.size() || !IsDigit(text[j + 1]);
        if (group_ends && digits >= 13 && digits <= 19 &&
            pan_internal::LuhnValid(text, start, j + 1)) {
          longest = PanSpan{start, j + 1};
        }
      } else if (!pan_internal::IsGroupSeparator(text, j)) {
        break;  // the run ends
      }
    }
    if (longest) return longest;
  }
  return std::nullopt;
}

}  // namespace payorch
