// The permissive parser: what it normalises (with an issue), what it redacts, and what it
// rejects (with which reason), case by case.
#include "command/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "command/money.h"
#include "support/command_harness.h"

namespace payorch::command {
namespace {

namespace cmd = ::payments::commands::v1;
namespace cfg = ::payments::config::v1;
namespace ev = ::payments::events::v1;
namespace ty = ::payments::types::v1;
using ::testing::ElementsAreArray;

cmd::CreatePayment BaseCreate() {
  cmd::CreatePayment c;
  c.set_merchant_id("m_seed");
  c.set_idempotency_key("order-1");
  c.mutable_amount()->set_amount_minor(1'000);
  c.mutable_amount()->set_currency("USD");
  c.set_method(ty::PAYMENT_METHOD_CARD);
  c.set_capture_mode(ty::CAPTURE_MODE_AUTOMATIC);
  return c;
}

const cfg::MerchantConfig* Limited() {
  static const auto* builder = new PlanBuilder(testing::SeedConfig());
  return builder->FindMerchant(testing::kLimitedMerchant);
}

std::vector<std::string> IssueCodes(const CreateRequest& r) {
  std::vector<std::string> codes;
  for (const auto& i : r.issues) codes.push_back(i.field() + ":" + i.code());
  return codes;
}

struct Case {
  const char* name;
  std::function<void(cmd::CreatePayment&)> change;
  bool limited_merchant = false;  // apply m_limited's limits (USD/EUR, <= 1,000.00)
  // Expected rejection; REJECT_REASON_UNSPECIFIED = accepted.
  ev::RejectReason reason = ev::REJECT_REASON_UNSPECIFIED;
  // Expected issues as "field:code", in output order (accepted cases only); {"*"} = any.
  std::vector<std::string> issues = {};
  std::function<void(const CreateRequest&)> check = nullptr;
};

std::string Repeat(char c, size_t n) { return std::string(n, c); }

std::vector<Case> Cases() {
  return {
      {"well_formed_request_has_no_issues",
       [](auto&) {},
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {},
       [](const CreateRequest& r) {
         EXPECT_EQ(r.merchant_id, "m_seed");
         EXPECT_EQ(r.amount, 1'000);
         EXPECT_EQ(r.currency, "USD");
         EXPECT_EQ(r.method, ty::PAYMENT_METHOD_CARD);
         EXPECT_FALSE(r.manual_capture);
       }},
      {"lower_case_currency_is_normalised_with_an_issue",
       [](auto& c) { c.mutable_amount()->set_currency("usd"); },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"amount.currency:currency/normalized_case"},
       [](const CreateRequest& r) { EXPECT_EQ(r.currency, "USD"); }},
      {"whitespace_is_trimmed_with_an_issue_per_field",
       [](auto& c) {
         c.set_merchant_id("  m_seed\t");
         c.set_idempotency_key(" order-1 ");
         c.mutable_amount()->set_currency(" USD\n");
         c.set_customer_reference(" cust-9 ");
       },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"amount.currency:amount.currency/trimmed", "customer_reference:customer_reference/trimmed",
        "idempotency_key:idempotency_key/trimmed", "merchant_id:merchant_id/trimmed"},
       [](const CreateRequest& r) {
         EXPECT_EQ(r.merchant_id, "m_seed");
         EXPECT_EQ(r.idempotency_key, "order-1");
         EXPECT_EQ(r.currency, "USD");
         EXPECT_EQ(r.customer_reference, "cust-9");
       }},
      {"unknown_metadata_key_is_flagged_and_kept",
       [](auto& c) {
         (*c.mutable_metadata())["order_id"] = "o-1";
         (*c.mutable_metadata())["loyalty_tier"] = "gold";
       },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"metadata.loyalty_tier:metadata/unknown_key"},
       [](const CreateRequest& r) {
         EXPECT_EQ(r.metadata.at("loyalty_tier"), "gold");
         EXPECT_EQ(r.metadata.at("order_id"), "o-1");
       }},
      {"luhn_valid_card_number_in_metadata_is_redacted",
       [](auto& c) { (*c.mutable_metadata())["description"] = "paid with 4111 1111 1111 1111"; },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"metadata.description:metadata/pan_redacted"},
       [](const CreateRequest& r) { EXPECT_EQ(r.metadata.at("description"), "[REDACTED_PAN]"); }},
      {"luhn_invalid_sixteen_digits_are_kept",
       [](auto& c) { (*c.mutable_metadata())["invoice_id"] = "4111 1111 1111 1112"; },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {},
       [](const CreateRequest& r) {
         EXPECT_EQ(r.metadata.at("invoice_id"), "4111 1111 1111 1112");
       }},
      {"keys_equal_once_trimmed_keep_the_first_in_key_order_with_an_issue",
       [](auto& c) {
         (*c.mutable_metadata())["channel"] = "app";
         (*c.mutable_metadata())[" channel"] = "web";
       },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"metadata.channel:metadata/duplicate_key"},
       [](const CreateRequest& r) {
         ASSERT_EQ(r.metadata.size(), 1u);
         EXPECT_EQ(r.metadata.at("channel"), "web");  // " channel" sorts before "channel"
       }},
      {"unspecified_method_defaults_to_card_with_an_issue",
       [](auto& c) { c.set_method(ty::PAYMENT_METHOD_UNSPECIFIED); },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"method:method/defaulted"},
       [](const CreateRequest& r) { EXPECT_EQ(r.method, ty::PAYMENT_METHOD_CARD); }},
      {"manual_capture_is_read",
       [](auto& c) { c.set_capture_mode(ty::CAPTURE_MODE_MANUAL); },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {},
       [](const CreateRequest& r) { EXPECT_TRUE(r.manual_capture); }},
      {"system_maximum_amount_is_accepted",
       [](auto& c) { c.mutable_amount()->set_amount_minor(kMaxAmountMinor); }},
      {"merchant_maximum_amount_is_accepted",
       [](auto& c) { c.mutable_amount()->set_amount_minor(100'000); }, true},
      {"lower_case_accepted_currency_passes_the_merchant_list",
       [](auto& c) { c.mutable_amount()->set_currency("eur"); },
       true,
       ev::REJECT_REASON_UNSPECIFIED,
       {"amount.currency:currency/normalized_case"}},
      {"fifty_metadata_entries_are_accepted",
       [](auto& c) {
         for (int i = 0; i < 50; ++i) (*c.mutable_metadata())["k" + std::to_string(i)] = "v";
       },
       false,
       ev::REJECT_REASON_UNSPECIFIED,
       {"*"},
       [](const CreateRequest& r) {
         EXPECT_EQ(r.metadata.size(), 50u);
         EXPECT_EQ(r.issues.size(), 50u);  // all unknown keys
       }},
      {"sixty_four_byte_merchant_is_accepted_by_the_parser",
       [](auto& c) { c.set_merchant_id(Repeat('m', 64)); }},

      {"idr_in_whole_rupiah_is_accepted",
       [](auto& c) {
         c.mutable_amount()->set_currency("IDR");
         c.mutable_amount()->set_amount_minor(15'000'000);
       }},

      // Rejections.
      {"zero_amount", [](auto& c) { c.mutable_amount()->set_amount_minor(0); }, false,
       ev::REJECT_REASON_AMOUNT_NOT_POSITIVE},
      {"negative_amount", [](auto& c) { c.mutable_amount()->set_amount_minor(-5); }, false,
       ev::REJECT_REASON_AMOUNT_NOT_POSITIVE},
      {"amount_over_system_maximum",
       [](auto& c) { c.mutable_amount()->set_amount_minor(kMaxAmountMinor + 1); }, false,
       ev::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"amount_int64_max", [](auto& c) { c.mutable_amount()->set_amount_minor(INT64_MAX); }, false,
       ev::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"amount_over_merchant_maximum",
       [](auto& c) { c.mutable_amount()->set_amount_minor(100'001); }, true,
       ev::REJECT_REASON_AMOUNT_TOO_LARGE},
      {"idr_to_the_sen",  // seed 003: IDR is settled in whole rupiah
       [](auto& c) {
         c.mutable_amount()->set_currency("IDR");
         c.mutable_amount()->set_amount_minor(15'000'050);
       },
       false, ev::REJECT_REASON_AMOUNT_PRECISION},
      {"unknown_currency", [](auto& c) { c.mutable_amount()->set_currency("XYZ"); }, false,
       ev::REJECT_REASON_CURRENCY_UNKNOWN},
      {"empty_currency", [](auto& c) { c.mutable_amount()->clear_currency(); }, false,
       ev::REJECT_REASON_CURRENCY_UNKNOWN},
      {"currency_not_accepted_by_merchant",
       [](auto& c) { c.mutable_amount()->set_currency("GBP"); }, true,
       ev::REJECT_REASON_CURRENCY_NOT_ACCEPTED},
      {"missing_merchant", [](auto& c) { c.clear_merchant_id(); }, false,
       ev::REJECT_REASON_MERCHANT_MISSING},
      {"blank_merchant", [](auto& c) { c.set_merchant_id(" \t "); }, false,
       ev::REJECT_REASON_MERCHANT_MISSING},
      {"missing_idempotency_key", [](auto& c) { c.clear_idempotency_key(); }, false,
       ev::REJECT_REASON_IDEMPOTENCY_KEY_MISSING},
      {"merchant_id_over_64_bytes", [](auto& c) { c.set_merchant_id(Repeat('m', 65)); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"idempotency_key_over_255_bytes", [](auto& c) { c.set_idempotency_key(Repeat('k', 256)); },
       false, ev::REJECT_REASON_FIELD_TOO_LONG},
      {"customer_reference_over_255_bytes",
       [](auto& c) { c.set_customer_reference(Repeat('c', 256)); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"metadata_key_over_40_bytes",
       [](auto& c) { (*c.mutable_metadata())[Repeat('k', 41)] = "v"; }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"metadata_value_over_500_bytes",
       [](auto& c) { (*c.mutable_metadata())["order_id"] = Repeat('v', 501); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"blank_metadata_key", [](auto& c) { (*c.mutable_metadata())["  "] = "v"; }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"fifty_one_metadata_entries",
       [](auto& c) {
         for (int i = 0; i < 51; ++i) (*c.mutable_metadata())["k" + std::to_string(i)] = "v";
       },
       false, ev::REJECT_REASON_FIELD_TOO_LONG},
      {"unknown_method_enum_value",
       [](auto& c) { c.set_method(static_cast<ty::PaymentMethod>(99)); }, false,
       ev::REJECT_REASON_METHOD_MISSING},
      {"unknown_capture_mode_enum_value",
       [](auto& c) { c.set_capture_mode(static_cast<ty::CaptureMode>(99)); }, false,
       ev::REJECT_REASON_TRANSITION_NOT_ALLOWED},
      {"invalid_utf8_in_customer_reference",
       [](auto& c) { c.set_customer_reference("caf\xC3\x28"); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"truncated_utf8_sequence_in_merchant", [](auto& c) { c.set_merchant_id("m_\xE2\x82"); },
       false, ev::REJECT_REASON_FIELD_TOO_LONG},
      {"overlong_utf8_encoding_in_idempotency_key",
       [](auto& c) { c.set_idempotency_key("k\xC0\xAF"); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"overlong_three_byte_utf8_in_metadata_value",
       [](auto& c) { (*c.mutable_metadata())["order_id"] = "\xE0\x80\xAF"; }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"utf16_surrogate_encoded_as_utf8_in_customer_reference",
       [](auto& c) { c.set_customer_reference("\xED\xA0\x80"); }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"code_point_above_u10ffff_in_metadata_value",
       [](auto& c) { (*c.mutable_metadata())["order_id"] = "\xF4\x90\x80\x80"; }, false,
       ev::REJECT_REASON_FIELD_TOO_LONG},
      {"invalid_utf8_in_metadata_key", [](auto& c) { (*c.mutable_metadata())["k\xFF"] = "v"; },
       false, ev::REJECT_REASON_FIELD_TOO_LONG},
  };
}

class ParseCreateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ParseCreateTest, NormalisesOrRejects) {
  const Case& c = GetParam();
  cmd::CreatePayment create = BaseCreate();
  c.change(create);
  auto parsed = ParseCreate(create, c.limited_merchant ? Limited() : nullptr);
  if (c.reason == ev::REJECT_REASON_UNSPECIFIED) {
    ASSERT_TRUE(parsed.ok()) << ev::RejectReason_Name(parsed.rejection().reason) << ": "
                             << parsed.rejection().detail;
    if (c.issues != std::vector<std::string>{"*"}) {
      EXPECT_THAT(IssueCodes(parsed.value()), ElementsAreArray(c.issues));
    }
    if (c.check) c.check(parsed.value());
  } else {
    ASSERT_FALSE(parsed.ok()) << "accepted";
    EXPECT_EQ(parsed.rejection().reason, c.reason)
        << ev::RejectReason_Name(parsed.rejection().reason) << ": " << parsed.rejection().detail;
    EXPECT_FALSE(parsed.rejection().detail.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ParseCreateTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ParseCreateTest, MalformedRequestsNameTheMalformedContract) {
  cmd::CreatePayment create = BaseCreate();
  create.mutable_amount()->set_amount_minor(0);
  auto parsed = ParseCreate(create, nullptr);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.rejection().contract_id, "request/malformed");
}

TEST(ParseCreateTest, RequestHashIgnoresNormalisationButNotContent) {
  cmd::CreatePayment a = BaseCreate();
  cmd::CreatePayment b = BaseCreate();
  b.mutable_amount()->set_currency(" usd ");
  b.set_merchant_id(" m_seed");
  auto pa = ParseCreate(a, nullptr);
  auto pb = ParseCreate(b, nullptr);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_EQ(pa.value().RequestHash(), pb.value().RequestHash());

  cmd::CreatePayment c = BaseCreate();
  c.mutable_amount()->set_amount_minor(1'001);
  auto pc = ParseCreate(c, nullptr);
  ASSERT_TRUE(pc.ok());
  EXPECT_NE(pa.value().RequestHash(), pc.value().RequestHash());
}

// Protobuf map iteration order is not specified (and varies between map instances), so
// two equal requests built in different orders must parse to the same result.
TEST(ParseCreateTest, MetadataOrderDoesNotChangeTheResult) {
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"order_id", "o-1"},
      {"zeta", "z"},
      {" channel", "web"},
      {"channel", "app"},
      {"alpha ", "a"},
      {"alpha", "b"},
      {"description", "4111111111111111"},
      {"product", "p"},
      {"source", "shop"},
      {"invoice_id", "i-9"}};
  std::string first_hash;
  std::string first_dump;
  for (int round = 0; round < 64; ++round) {
    std::vector<size_t> order(entries.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::rotate(order.begin(), order.begin() + (round % order.size()), order.end());
    if (round & 1) std::reverse(order.begin(), order.end());
    cmd::CreatePayment c = BaseCreate();
    for (size_t i : order) (*c.mutable_metadata())[entries[i].first] = entries[i].second;
    auto parsed = ParseCreate(c, nullptr);
    ASSERT_TRUE(parsed.ok()) << parsed.rejection().detail;
    std::string dump;
    for (const auto& [k, v] : parsed.value().metadata) dump += k + "=" + v + ";";
    for (const auto& i : parsed.value().issues) {
      dump += i.field() + "|" + i.code() + "|" + i.detail() + ";";
    }
    if (round == 0) {
      first_hash = parsed.value().RequestHash();
      first_dump = dump;
    }
    EXPECT_EQ(parsed.value().RequestHash(), first_hash) << "round " << round;
    EXPECT_EQ(dump, first_dump) << "round " << round;
  }
}

struct PanCase {
  const char* text;
  bool pan;
};

TEST(LooksLikePanTest, FlagsLuhnValidCardNumbersOnly) {
  const PanCase cases[] = {
      {"4111111111111111", true},
      {"4111 1111 1111 1111", true},
      {"4111-1111-1111-1111", true},
      {"card: 5500 0000 0000 0004, thanks", true},
      {"378282246310005", true},   // Amex, 15 digits
      {"6011111111111117", true},  // Discover
      {"4111111111111111 exp 12/29", true},
      {"4111 1111 1111 1112", false},  // Luhn-invalid
      {"4111111111111112", false},
      {"1234567890123456", false},
      {"79927398713", false},  // Luhn-valid but 11 digits
      {"order 12345", false},
      {"", false},
      {"no digits here", false},
      {"+1 555 123 4567", false},
  };
  for (const auto& c : cases) EXPECT_EQ(LooksLikePan(c.text), c.pan) << "'" << c.text << "'";
}

TEST(TrimTest, TrimsAsciiWhitespaceOnly) {
  EXPECT_EQ(Trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t "), "");
  EXPECT_EQ(Trim("\xC2\xA0x"), "\xC2\xA0x");  // NBSP is not ASCII whitespace
}

TEST(MetadataKeysTest, KnownKeys) {
  for (const char* k : {"order_id", "invoice_id", "description", "channel", "customer_email",
                        "product", "source"}) {
    EXPECT_TRUE(IsKnownMetadataKey(k)) << k;
  }
  EXPECT_FALSE(IsKnownMetadataKey("Order_Id"));
  EXPECT_FALSE(IsKnownMetadataKey(""));
}

}  // namespace
}  // namespace payorch::command

namespace payorch::command {
namespace {

TEST(TruncateUtf8Test, NeverCutsACharacterInTwo) {
  struct Case {
    std::string in;
    size_t max;
    std::string out;
  };
  const Case cases[] = {
      {"hello", 10, "hello"},
      {"hello", 3, "hel"},
      {"hello", 0, ""},
      {"caf\xC3\xA9", 4, "caf"},  // é would be split
      {"caf\xC3\xA9", 5, "caf\xC3\xA9"},
      {"\xE2\x82\xAC\xE2\x82\xAC", 5, "\xE2\x82\xAC"},  // €€
      {"\xF0\x9F\x98\x80x", 3, ""},                     // 4-byte emoji
      {"ok\xFFtail", 10, "ok"},                         // stops at invalid input
  };
  for (const auto& c : cases) EXPECT_EQ(TruncateUtf8(c.in, c.max), c.out) << c.in << " " << c.max;
}

}  // namespace
}  // namespace payorch::command

namespace payorch::command {
namespace {

// The definition LooksLikePan implements, written the slow and obvious way: split each run
// of digits (single spaces or dashes allowed between digits) into groups; a PAN is any
// sequence of consecutive groups holding 13..19 digits that passes the Luhn check.
bool ReferenceLooksLikePan(std::string_view v) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  while (i < v.size()) {
    if (!is_digit(v[i])) {
      ++i;
      continue;
    }
    std::vector<std::string> groups(1);
    size_t j = i;
    while (j < v.size()) {
      if (is_digit(v[j])) {
        groups.back().push_back(v[j++]);
      } else if ((v[j] == ' ' || v[j] == '-') && j + 1 < v.size() && is_digit(v[j + 1])) {
        groups.emplace_back();
        ++j;
      } else {
        break;
      }
    }
    for (size_t a = 0; a < groups.size(); ++a) {
      std::string candidate;
      for (size_t b = a; b < groups.size(); ++b) {
        candidate += groups[b];
        if (candidate.size() < 13 || candidate.size() > 19) continue;
        int sum = 0;
        for (size_t k = 0; k < candidate.size(); ++k) {
          int d = candidate[candidate.size() - 1 - k] - '0';
          if (k % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
          sum += d;
        }
        if (sum % 10 == 0) return true;
      }
    }
    i = j;
  }
  return false;
}

TEST(LooksLikePanTest, AgreesWithTheReferenceDefinitionOnRandomText) {
  std::mt19937_64 rng(20261122);  // seeded: reproducible
  const std::string alphabet = "0123456789012345678901234567890123456789 - -x";
  int flagged = 0;
  for (int n = 0; n < 20'000; ++n) {
    std::string text;
    const size_t len = rng() % 60;
    for (size_t k = 0; k < len; ++k) text.push_back(alphabet[rng() % alphabet.size()]);
    const bool expected = ReferenceLooksLikePan(text);
    flagged += expected ? 1 : 0;
    ASSERT_EQ(LooksLikePan(text), expected) << "'" << text << "'";
  }
  EXPECT_GT(flagged, 1'000);  // the generator does produce card numbers
}

}  // namespace
}  // namespace payorch::command
