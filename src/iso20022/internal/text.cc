#include "iso20022/internal/text.h"

#include <cstdint>

namespace payorch::iso20022::internal {
namespace {

bool Upper(char c) { return c >= 'A' && c <= 'Z'; }
bool Lower(char c) { return c >= 'a' && c <= 'z'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }
bool UpperOrDigit(char c) { return Upper(c) || Digit(c); }

bool XmlAllows(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

}  // namespace

std::optional<size_t> XmlCharCount(std::string_view s) {
  size_t chars = 0;
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (b0 < 0x80) {
      len = 1, cp = b0, min = 0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms and surrogates are not UTF-8; XmlAllows excludes the surrogate range.
    if (cp < min || !XmlAllows(cp)) return std::nullopt;
    i += len;
    ++chars;
  }
  return chars;
}

bool IsText(std::string_view utf8, size_t min_chars, size_t max_chars) {
  const auto n = XmlCharCount(utf8);
  return n && *n >= min_chars && *n <= max_chars;
}

bool IsIban(std::string_view iban) {
  if (iban.size() < 5 || iban.size() > 34) return false;
  if (!Upper(iban[0]) || !Upper(iban[1]) || !Digit(iban[2]) || !Digit(iban[3])) return false;
  for (size_t i = 4; i < iban.size(); ++i) {
    if (!Upper(iban[i]) && !Lower(iban[i]) && !Digit(iban[i])) return false;
  }
  // Mod 97 of the rearranged number, digit by digit (letters count as two digits).
  uint32_t rem = 0;
  auto feed = [&rem](char c) {
    if (Digit(c)) {
      rem = (rem * 10 + static_cast<uint32_t>(c - '0')) % 97;
      return;
    }
    const uint32_t v = static_cast<uint32_t>((Lower(c) ? c - 'a' : c - 'A') + 10);
    rem = (rem * 100 + v) % 97;
  };
  for (size_t i = 4; i < iban.size(); ++i) feed(iban[i]);
  for (size_t i = 0; i < 4; ++i) feed(iban[i]);
  return rem == 1;
}

bool IsBic(std::string_view bic) {
  if (bic.size() != 8 && bic.size() != 11) return false;
  for (size_t i = 0; i < bic.size(); ++i) {
    const bool ok = (i >= 4 && i < 6) ? Upper(bic[i]) : UpperOrDigit(bic[i]);
    if (!ok) return false;
  }
  return true;
}

}  // namespace payorch::iso20022::internal
