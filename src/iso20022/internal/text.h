// Checks of text values against the ISO 20022 simple types the writer emits and the parser
// reads. Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace payorch::iso20022::internal {

// The number of characters of valid UTF-8 text whose every character XML 1.0 allows
// (tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF); nullopt otherwise.
std::optional<size_t> XmlCharCount(std::string_view utf8);

// An ISO 20022 text of min..max characters (Max35Text: 1..35, Max140Text: 1..140).
bool IsText(std::string_view utf8, size_t min_chars, size_t max_chars);

// IBAN2007Identifier ([A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}) with a valid ISO 13616 check
// (the number with its first four characters moved to the end, letters as 10-35, mod 97
// equals 1).
bool IsIban(std::string_view iban);

// BICFIDec2014Identifier: [A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?
bool IsBic(std::string_view bic);

}  // namespace payorch::iso20022::internal
