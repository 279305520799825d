// The text checks behind the writer's refusals: XML characters counted in UTF-8, IBAN
// check digits, BIC shape.
#include "iso20022/internal/text.h"

#include <gtest/gtest.h>

namespace payorch::iso20022::internal {
namespace {

TEST(XmlCharCount, CountsCharactersAndRefusesWhatXmlCannotCarry) {
  EXPECT_EQ(XmlCharCount(""), 0u);
  EXPECT_EQ(XmlCharCount("abc"), 3u);
  EXPECT_EQ(XmlCharCount("é"), 1u);                 // 2 bytes
  EXPECT_EQ(XmlCharCount("株式"), 2u);              // 3 bytes each
  EXPECT_EQ(XmlCharCount("\xF0\x9F\x92\xB6"), 1u);  // U+1F4B6, 4 bytes
  EXPECT_EQ(XmlCharCount("a\tb\nc\r"), 6u);
  EXPECT_FALSE(XmlCharCount("\x01"));                  // C0 control
  EXPECT_FALSE(XmlCharCount(std::string("a\0b", 3)));  // NUL
  EXPECT_FALSE(XmlCharCount("\xC3"));                  // truncated
  EXPECT_FALSE(XmlCharCount("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(XmlCharCount("\xED\xA0\x80"));          // surrogate U+D800
  EXPECT_FALSE(XmlCharCount("\xEF\xBF\xBE"));          // U+FFFE
  EXPECT_FALSE(XmlCharCount("\xFF"));
}

TEST(IsIban, ChecksShapeAndCheckDigits) {
  for (const char* ok :
       {"DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606",
        "NL91ABNA0417164300", "BE68539007547034", "CH9300762011623852957"}) {
    EXPECT_TRUE(IsIban(ok)) << ok;
  }
  for (const char* bad :
       {"", "DE89", "DE89370400440532013001", "GB82WEST12345698765431", "de89370400440532013000",
        "DE8937040044053201300!", "DE89 3704 0044 0532 0130 00", "1289370400440532013000"}) {
    EXPECT_FALSE(IsIban(bad)) << bad;
  }
}

TEST(IsBic, EightOrElevenCharactersWithALetterCountryCode) {
  for (const char* ok : {"COBADEFF", "COBADEFFXXX", "UBSWCHZH80A", "ABNANL2A"}) {
    EXPECT_TRUE(IsBic(ok)) << ok;
  }
  for (const char* bad :
       {"", "COBADEF", "COBADEFFXX", "COBA1EFFXXX", "cobadeffxxx", "COBADEFFXXXX"}) {
    EXPECT_FALSE(IsBic(bad)) << bad;
  }
}

}  // namespace
}  // namespace payorch::iso20022::internal
