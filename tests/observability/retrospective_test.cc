#include "metrics/retrospective.h"

#include <gtest/gtest.h>

namespace payorch::metrics {
namespace {

using ::payments::contracts::v1::ContractViolation;

ContractViolation V(const std::string& id, int64_t at, int64_t offset, int32_t partition = 0) {
  ContractViolation v;
  v.set_contract_id(id);
  v.set_occurred_at_ms(at);
  v.set_offset(offset);
  v.set_partition(partition);
  return v;
}

const ContractRow& Row(const RetrospectiveReport& r, const std::string& id) {
  for (const auto& row : r.rows) {
    if (row.id == id) return row;
  }
  static ContractRow none;
  ADD_FAILURE() << "no row " << id;
  return none;
}

TEST(Retrospective, CountsViolationsInTheWindowOnceEach) {
  const std::vector<ContractViolation> vs = {
      V("plan/coverage", 100, 1),    V("plan/coverage", 200, 2),
      V("plan/coverage", 200, 2),     // the same violation published again (re-decided)
      V("plan/coverage", 200, 2, 1),  // same offset, another partition: distinct
      V("plan/coverage", 99, 3),      // before the window
      V("plan/coverage", 1'000, 4),   // at `until`: excluded
      V("router/timeout", 500, 5)};
  const auto r = BuildRetrospective(vs, {100, 1'000}, nullptr);
  EXPECT_EQ(Row(r, "plan/coverage").count, 3);
  EXPECT_EQ(Row(r, "router/timeout").count, 1);
  EXPECT_EQ(Row(r, "writer/fenced").count, 0);  // known ids are listed even at zero
  EXPECT_EQ(r.total, 4);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.mismatches, 0);  // nothing to compare with
  EXPECT_FALSE(Row(r, "plan/coverage").external_reports.has_value());
}

TEST(Retrospective, FlagsContractsWhoseCountsAndComplaintsDiverge) {
  std::vector<ContractViolation> vs;
  for (int i = 0; i < 41; ++i) vs.push_back(V("plan/coverage", 10, i));
  vs.push_back(V("idempotency/mismatch", 10, 100));
  const ExternalReports external = {
      {"plan/coverage", 17}, {"idempotency/mismatch", 1}, {"payout/late", 2}};
  const auto r = BuildRetrospective(vs, {0, 100}, &external);
  EXPECT_TRUE(Row(r, "plan/coverage").mismatch);  // the seed's example: 41 vs 17
  EXPECT_EQ(*Row(r, "plan/coverage").external_reports, 17);
  EXPECT_FALSE(Row(r, "idempotency/mismatch").mismatch);
  EXPECT_TRUE(Row(r, "payout/late").mismatch);  // complaints the system never saw
  EXPECT_EQ(Row(r, "payout/late").count, 0);
  EXPECT_FALSE(Row(r, "writer/fenced").mismatch);  // 0 and 0
  EXPECT_EQ(r.mismatches, 2);

  const auto tolerant = BuildRetrospective(vs, {0, 100}, &external, 0.6);
  EXPECT_FALSE(Row(tolerant, "plan/coverage").mismatch);  // |41-17| = 24 <= 0.6 * 41
  EXPECT_TRUE(Row(tolerant, "payout/late").mismatch);     // 2 > 0.6 * 2
}

TEST(Retrospective, YamlHasTheSeedsShape) {
  const ExternalReports external = {{"plan/coverage", 17}};
  std::vector<ContractViolation> vs(41, V("plan/coverage", 10, 0));
  for (int i = 0; i < 41; ++i) vs[i].set_offset(i);
  const std::string yaml = ToYaml(BuildRetrospective(vs, {0, 100}, &external));
  EXPECT_NE(yaml.find("violations:\n  - id: gateway/unknown-outcome"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - id: plan/coverage\n    count: 41\n    external_reports: 17\n"
                      "    mismatch: true\n"),
            std::string::npos)
      << yaml;
}

TEST(ExternalReports, AcceptCountsOrAListOfComplaints) {
  auto counts =
      ParseExternalReports("external_reports:\n  plan/coverage: 17\n  router/timeout: 0\n");
  ASSERT_TRUE(std::holds_alternative<ExternalReports>(counts));
  EXPECT_EQ(std::get<ExternalReports>(counts),
            (ExternalReports{{"plan/coverage", 17}, {"router/timeout", 0}}));
  auto list = ParseExternalReports(
      "complaints:\n  - {contract_id: plan/coverage, merchant_id: m1}\n"
      "  - {id: plan/coverage}\n  - {contract_id: request/malformed}\n");
  ASSERT_TRUE(std::holds_alternative<ExternalReports>(list));
  EXPECT_EQ(std::get<ExternalReports>(list),
            (ExternalReports{{"plan/coverage", 2}, {"request/malformed", 1}}));
}

TEST(ExternalReports, RejectBadFilesWithOneLine) {
  for (const char* bad :
       {"[1, 2]", "other: 1", "external_reports: [1]", "external_reports: {plan/coverage: -1}",
        "complaints: [{note: x}]", "external_reports: {a: [1"}) {
    auto r = ParseExternalReports(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
    EXPECT_EQ(std::get<std::string>(r).find('\n'), std::string::npos) << bad;
  }
}

TEST(TimePoints, ParseRfc3339MillisecondsAndDurationsBeforeNow) {
  int64_t t = 0;
  EXPECT_TRUE(ParseTimePoint("2024-05-01T00:00:00Z", 0, &t));
  EXPECT_EQ(t, 1'714'521'600'000);
  EXPECT_EQ(FormatTimePoint(t), "2024-05-01T00:00:00Z");
  EXPECT_TRUE(ParseTimePoint("1714521600000", 0, &t));
  EXPECT_EQ(t, 1'714'521'600'000);
  EXPECT_TRUE(ParseTimePoint("14d", 2'000'000'000'000, &t));
  EXPECT_EQ(t, 2'000'000'000'000 - 14 * 86'400'000LL);
  EXPECT_TRUE(ParseTimePoint("90m", 10'000'000, &t));
  EXPECT_EQ(t, 10'000'000 - 90 * 60'000);
  for (const char* bad : {"", "yesterday", "14w", "2024-13-01T00:00:00Z", "2024-05-01", "d"}) {
    EXPECT_FALSE(ParseTimePoint(bad, 0, &t)) << bad;
  }
}

}  // namespace
}  // namespace payorch::metrics
