// Specification of the configuration loader (src/config/config.h): what it accepts, how it
// normalises, and the exact one-line message for each kind of mistake.
#include "config/config.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace payorch::config {
namespace {

using ::payments::config::v1::OrchestratorConfig;

std::string Diff(const OrchestratorConfig& a, const OrchestratorConfig& b) {
  std::string report;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&report);
  return d.Compare(a, b) ? "" : report;
}

// One merchant with one CARD profile of two steps, as the tests below write it.
OrchestratorConfig ExpectedSmall() {
  OrchestratorConfig c;
  c.set_schema_version(1);
  auto* m = c.add_merchants();
  m->set_merchant_id("m_a");
  m->set_max_retries_per_step(3);
  m->set_attempt_timeout_ms(1500);
  m->set_max_amount_minor(10000);
  m->add_currencies("USD");
  m->add_currencies("EUR");
  m->set_deadline_policy(::payments::config::v1::DEADLINE_POLICY_FAIL);
  auto* p = m->add_profiles();
  p->set_name("card");
  p->set_method(::payments::types::v1::PAYMENT_METHOD_CARD);
  auto* s1 = p->add_steps();
  s1->set_method(::payments::types::v1::PAYMENT_METHOD_CARD);
  s1->set_processor_id("psp_a");
  s1->set_max_amount_minor(5000);
  s1->set_role(::payments::plan::v1::STEP_ROLE_PRIMARY);
  auto* s2 = p->add_steps();
  s2->set_method(::payments::types::v1::PAYMENT_METHOD_CARD);
  s2->set_processor_id("psp_b");
  s2->set_role(::payments::plan::v1::STEP_ROLE_FALLBACK);
  return c;
}

struct Spelling {
  const char* name;
  Format format;
  const char* text;
};

// Every accepted spelling of ExpectedSmall(): snake_case or lowerCamel names, enum values
// with or without prefix and in any case, currencies in any case, integers as numbers or
// strings (JSON), schema_version omitted.
const Spelling kSpellings[] = {
    {"yaml_snake_case_short_enums", Format::kYaml, R"(
schema_version: 1
merchants:
  - merchant_id: m_a
    max_retries_per_step: 3
    attempt_timeout_ms: 1500
    max_amount_minor: 10000
    currencies: [USD, EUR]
    deadline_policy: FAIL
    profiles:
      - name: card
        method: CARD
        steps:
          - {method: CARD, processor_id: psp_a, max_amount_minor: 5000, role: PRIMARY}
          - {method: CARD, processor_id: psp_b, role: FALLBACK}
)"},
    {"yaml_camel_case_prefixed_enums_lower_currency_no_version", Format::kYaml, R"(
merchants:
- merchantId: "m_a"
  maxRetriesPerStep: "3"
  attemptTimeoutMs: 1500
  maxAmountMinor: 10000
  currencies: [usd, Eur]
  deadlinePolicy: DEADLINE_POLICY_FAIL
  profiles:
  - name: card
    method: payment_method_card
    steps:
    - method: PAYMENT_METHOD_CARD
      processorId: psp_a
      maxAmountMinor: 5000
      role: STEP_ROLE_PRIMARY
    - method: card
      processor_id: psp_b
      max_amount_minor: ~
      role: fallback
)"},
    {"json_snake_case", Format::kJson, R"({
  "schema_version": 1,
  "merchants": [{
    "merchant_id": "m_a", "max_retries_per_step": 3, "attempt_timeout_ms": 1500,
    "max_amount_minor": 10000, "currencies": ["USD", "EUR"], "deadline_policy": "FAIL",
    "profiles": [{"name": "card", "method": "CARD", "steps": [
      {"method": "CARD", "processor_id": "psp_a", "max_amount_minor": 5000, "role": "PRIMARY"},
      {"method": "CARD", "processor_id": "psp_b", "role": "FALLBACK"}]}]}]})"},
    {"json_lower_camel_string_integers", Format::kJson, R"({
  "merchants": [{
    "merchantId": "m_a", "maxRetriesPerStep": "3", "attemptTimeoutMs": 1500,
    "maxAmountMinor": "10000", "currencies": ["usd", "eur"],
    "deadlinePolicy": "DEADLINE_POLICY_FAIL",
    "profiles": [{"name": "card", "method": "PAYMENT_METHOD_CARD", "steps": [
      {"method": "card", "processorId": "psp_a", "maxAmountMinor": "5000", "role": "STEP_ROLE_PRIMARY"},
      {"method": "CARD", "processorId": "psp_b", "maxAmountMinor": null, "role": "FALLBACK"}]}]}]})"},
};

TEST(ConfigLoader, EverySpellingOfTheSameConfigLoadsToTheSameMessage) {
  for (const Spelling& s : kSpellings) {
    SCOPED_TRACE(s.name);
    LoadResult r = LoadConfigText(s.text, s.format, "test");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(Diff(r.config(), ExpectedSmall()), "");
  }
}

struct BadCase {
  const char* name;
  Format format;
  const char* text;
  const char* message;  // the whole expected error line
};

// A valid merchant entry to make error cases one change away from a good file.
#define GOOD_PROFILES                 \
  "    profiles:\n"                   \
  "      - method: CARD\n"            \
  "        steps:\n"                  \
  "          - method: CARD\n"        \
  "            processor_id: psp_a\n" \
  "            role: PRIMARY\n"

const BadCase kBadCases[] = {
    {"unknown_field_lists_the_known_ones", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    retries: 3\n" GOOD_PROFILES,
     "merchants.yaml:3:5: merchants[0]: unknown field \"retries\" (expected one of: "
     "merchant_id, profiles, max_retries_per_step, attempt_timeout_ms, processing_deadline_ms, "
     "max_amount_minor, currencies, deadline_policy, circuit_breaker, "
     "success_rate_routing, creditor_account)"},
    {"misspelt_field_suggests_the_close_one", Format::kYaml,
     "merchants:\n"
     "  - merchant_idd: m_a\n" GOOD_PROFILES,
     "merchants.yaml:2:5: merchants[0]: unknown field \"merchant_idd\" (did you mean "
     "\"merchant_id\"?)"},
    {"bad_enum_value_lists_the_accepted_ones", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - {method: APPLE_PAY, steps: [{method: APPLE_PAY, processor_id: ap, role: PRIMARY}]}\n"
     "      - method: CARD\n"
     "        steps:\n"
     "          - method: CARDD\n"
     "            processor_id: psp_a\n",
     "merchants.yaml:7:21: merchants[0].profiles[1].steps[0].method: unknown value \"CARDD\" "
     "(expected CARD, APPLE_PAY, BANK_TRANSFER, GOOGLE_PAY)"},
    {"duplicate_merchant_names_both_entries", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n" GOOD_PROFILES "  - merchant_id: m_a\n" GOOD_PROFILES,
     "merchants.yaml:9:18: merchants[1].merchant_id: duplicate merchant \"m_a\" (also "
     "merchants[0])"},
    {"profile_without_steps", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n"
     "        steps: []\n",
     "merchants.yaml:5:16: merchants[0].profiles[0].steps: at least one step is required"},
    {"profile_with_steps_missing", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n",
     "merchants.yaml:4:9: merchants[0].profiles[0].steps: at least one step is required"},
    {"negative_step_maximum", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n"
     "        steps:\n"
     "          - {method: CARD, processor_id: psp_a, role: PRIMARY, max_amount_minor: -5}\n",
     "merchants.yaml:6:82: merchants[0].profiles[0].steps[0].max_amount_minor: must be >= 0 "
     "(0 = no bound), got -5"},
    {"yaml_syntax_error_has_line_and_column", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles: [unclosed\n"
     "  - merchant_id: m_b\n",
     "merchants.yaml:4:16: YAML syntax error: end of sequence flow not found"},
    {"yaml_duplicate_key", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    merchant_id: m_b\n" GOOD_PROFILES,
     "merchants.yaml:3:5: merchants[0]: duplicate key \"merchant_id\""},
    {"same_field_under_both_spellings", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    merchantId: m_b\n" GOOD_PROFILES,
     "merchants.yaml:3:5: merchants[0]: field \"merchant_id\" given twice (as \"merchant_id\" "
     "and \"merchantId\")"},
    {"text_where_a_number_belongs", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    max_retries_per_step: lots\n" GOOD_PROFILES,
     "merchants.yaml:3:27: merchants[0].max_retries_per_step: expected a non-negative integer, "
     "got \"lots\""},
    {"negative_number_for_an_unsigned_field", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    attempt_timeout_ms: -1\n" GOOD_PROFILES,
     "merchants.yaml:3:25: merchants[0].attempt_timeout_ms: integer out of range: \"-1\" "
     "(must be 0..4294967295)"},
    {"a_list_where_a_mapping_belongs", Format::kYaml,
     "merchants:\n"
     "  - [m_a]\n",
     "merchants.yaml:2:5: merchants[0]: expected a mapping, got a list"},
    {"a_list_at_the_top_level", Format::kYaml, "- merchant_id: m_a\n",
     "merchants.yaml:1:1: expected a mapping, got a list"},
    {"unknown_top_level_field", Format::kYaml, "schema_version: 1\nmerchant:\n  - {}\n",
     "merchants.yaml:2:1: unknown field \"merchant\" (did you mean \"merchants\"?)"},
    {"too_many_retries", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    max_retries_per_step: 11\n" GOOD_PROFILES,
     "merchants.yaml:3:27: merchants[0].max_retries_per_step: must be at most 10, got 11"},
    {"attempt_timeout_out_of_bounds", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    attempt_timeout_ms: 50\n" GOOD_PROFILES,
     "merchants.yaml:3:25: merchants[0].attempt_timeout_ms: must be 0 (the default) or "
     "100..120000, got 50"},
    {"deadline_shorter_than_one_attempt", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    attempt_timeout_ms: 5000\n"
     "    processing_deadline_ms: 2000\n" GOOD_PROFILES,
     "merchants.yaml:4:29: merchants[0].processing_deadline_ms: must be >= attempt_timeout_ms "
     "(5000), got 2000"},
    {"currency_of_the_wrong_shape", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    currencies: [USD, EURO]\n" GOOD_PROFILES,
     "merchants.yaml:3:23: merchants[0].currencies[1]: \"EURO\" is not a 3-letter ISO 4217 code"},
    {"duplicate_currency_after_upper_casing", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    currencies: [usd, USD]\n" GOOD_PROFILES,
     "merchants.yaml:3:23: merchants[0].currencies[1]: duplicate currency \"USD\" (also "
     "merchants[0].currencies[0])"},
    {"empty_merchant_id", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: \"\"\n" GOOD_PROFILES,
     "merchants.yaml:2:18: merchants[0].merchant_id: must not be empty"},
    {"merchant_without_profiles", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n",
     "merchants.yaml:2:5: merchants[0].profiles: at least one profile is required"},
    {"two_profiles_for_one_method", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - {method: CARD, steps: [{method: CARD, processor_id: a, role: PRIMARY}]}\n"
     "      - {method: CARD, steps: [{method: CARD, processor_id: b, role: PRIMARY}]}\n",
     "merchants.yaml:5:18: merchants[0].profiles[1].method: duplicate profile for method CARD "
     "(also merchants[0].profiles[0])"},
    {"step_without_processor", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n"
     "        steps:\n"
     "          - {method: CARD, role: PRIMARY}\n",
     "merchants.yaml:6:13: merchants[0].profiles[0].steps[0].processor_id: must not be empty"},
    {"first_step_is_a_fallback", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n"
     "        steps:\n"
     "          - {method: CARD, processor_id: a, role: FALLBACK}\n",
     "merchants.yaml:6:51: merchants[0].profiles[0].steps[0].role: the first step must be "
     "PRIMARY, got FALLBACK"},
    {"step_without_method", Format::kYaml,
     "merchants:\n"
     "  - merchant_id: m_a\n"
     "    profiles:\n"
     "      - method: CARD\n"
     "        steps:\n"
     "          - {processor_id: a, role: PRIMARY}\n",
     "merchants.yaml:6:13: merchants[0].profiles[0].steps[0].method: required (one of CARD, "
     "APPLE_PAY, BANK_TRANSFER, GOOGLE_PAY)"},
    {"unsupported_schema_version", Format::kYaml,
     "schema_version: 2\n"
     "merchants:\n"
     "  - merchant_id: m_a\n" GOOD_PROFILES,
     "merchants.yaml:1:17: schema_version: unsupported version 2 (this build reads 1)"},
    {"no_merchants", Format::kYaml, "schema_version: 1\n",
     "merchants.yaml:1:1: merchants: at least one merchant is required"},
    {"empty_document", Format::kYaml, "",
     "merchants.yaml: merchants: at least one merchant is required"},
    {"json_syntax_error_has_line_and_column", Format::kJson,
     "{\n"
     "  \"merchants\": [\n"
     "    {\"merchant_id\": \"m_a\",}\n"
     "  ]\n"
     "}\n",
     "merchants.json:3:27: JSON syntax error: syntax error while parsing object key - "
     "unexpected '}'; expected string literal"},
    {"json_unknown_field", Format::kJson,
     R"({"merchants": [{"merchant_id": "m_a", "colour": "blue"}]})",
     "merchants.json: merchants[0]: unknown field \"colour\" (expected one of: merchant_id, "
     "profiles, max_retries_per_step, attempt_timeout_ms, processing_deadline_ms, "
     "max_amount_minor, currencies, deadline_policy, circuit_breaker, "
     "success_rate_routing, creditor_account)"},
    {"json_duplicate_key", Format::kJson,
     R"({"merchants": [{"merchant_id": "m_a"}, {"merchant_id": "m_b", "merchant_id": "m_c"}]})",
     "merchants.json: merchants[1]: duplicate key \"merchant_id\""},
    {"json_number_where_a_string_belongs", Format::kJson, R"({"merchants": [{"merchant_id": 7}]})",
     "merchants.json: merchants[0].merchant_id: expected a string, got 7"},
    {"json_enum_as_number", Format::kJson,
     R"({"merchants": [{"merchant_id": "m", "profiles": [{"method": 1}]}]})",
     "merchants.json: merchants[0].profiles[0].method: unknown value 1 (expected CARD, "
     "APPLE_PAY, BANK_TRANSFER, GOOGLE_PAY)"},
    {"json_fraction_where_an_integer_belongs", Format::kJson,
     R"({"merchants": [{"merchant_id": "m", "max_amount_minor": 1.5}]})",
     "merchants.json: merchants[0].max_amount_minor: expected an integer, got 1.5"},
};

TEST(ConfigLoader, EachMistakeGivesItsExactOneLineMessage) {
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.name);
    const char* source = c.format == Format::kYaml ? "merchants.yaml" : "merchants.json";
    LoadResult r = LoadConfigText(c.text, c.format, source);
    ASSERT_FALSE(r.ok()) << "accepted";
    EXPECT_EQ(r.error(), c.message);
    EXPECT_EQ(r.error().find('\n'), std::string::npos);
  }
}

TEST(ConfigLoader, ErrorsNameTheFileAsGiven) {
  LoadResult missing = LoadConfigFile("/nonexistent/dir/merchants.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(),
            "/nonexistent/dir/merchants.yaml: cannot read: No such file or directory");

  LoadResult extension = LoadConfigFile("merchants.toml");
  ASSERT_FALSE(extension.ok());
  EXPECT_EQ(extension.error(),
            "merchants.toml: unsupported file extension (expected .yaml, .yml or .json)");
}

TEST(ConfigLoader, FormatIsChosenByExtension) {
  EXPECT_EQ(FormatForPath("a/merchants.yaml"), Format::kYaml);
  EXPECT_EQ(FormatForPath("merchants.YML"), Format::kYaml);
  EXPECT_EQ(FormatForPath("merchants.json"), Format::kJson);
  EXPECT_EQ(FormatForPath("merchants.yaml.bak"), std::nullopt);
  EXPECT_EQ(FormatForPath("json"), std::nullopt);
}

TEST(DefaultConfig, EqualsTheDeployedDemoFile) {
  LoadResult file = LoadConfigFile(PAYORCH_DEMO_CONFIG_PATH);
  ASSERT_TRUE(file.ok()) << file.error();
  EXPECT_EQ(Diff(file.config(), DefaultConfig()), "");
}

TEST(DefaultConfig, SurvivesProtobufJsonRoundTripThroughTheLoader) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(DefaultConfig(), &json, options).ok());
  LoadResult r = LoadConfigText(json, Format::kJson, "default.json");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Diff(r.config(), DefaultConfig()), "");
}

TEST(DefaultConfig, HasTheSeedMerchants) {
  OrchestratorConfig c = DefaultConfig();
  std::vector<std::string> ids;
  for (const auto& m : c.merchants()) ids.push_back(m.merchant_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"m_cobranded", "m_wallet", "m_flaky", "m_jpy"}));

  const auto& wallet_apple = c.merchants(1).profiles(0);
  ASSERT_EQ(wallet_apple.steps_size(), 2);
  EXPECT_EQ(wallet_apple.method(), ::payments::types::v1::PAYMENT_METHOD_APPLE_PAY);
  EXPECT_EQ(wallet_apple.steps(0).max_amount_minor(), 5000);
  EXPECT_EQ(wallet_apple.steps(1).role(), ::payments::plan::v1::STEP_ROLE_SPLIT);
  EXPECT_EQ(wallet_apple.steps(1).processor_id(), "adyen");

  const auto& jpy = c.merchants(3);
  EXPECT_EQ(std::vector<std::string>(jpy.currencies().begin(), jpy.currencies().end()),
            (std::vector<std::string>{"JPY", "KWD"}));
  EXPECT_EQ(jpy.max_amount_minor(), 5'000'000);
}

}  // namespace
}  // namespace payorch::config
