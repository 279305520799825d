// Retrospective report: the contract violations of a time window, per contract id, next to
// the complaints merchants reported for the same window, as the seed's RetrospectiveReport:
//
//   violations:
//     - id: plan/coverage
//       count: 41
//       external_reports: 17
//       mismatch: true
//
//   auto external = metrics::ParseExternalReports(yaml_text);   // or an error
//   metrics::RetrospectiveReport r = metrics::BuildRetrospective(violations, window, &ext);
//   std::string yaml = metrics::ToYaml(r);
//   return r.mismatches > 0 ? 1 : 0;     // escalate when they diverge
//
// Violations are de-duplicated by (contract id, partition, offset, payment id): a command
// decided again after a crash publishes the same violation again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "payments/contracts/v1/contracts.pb.h"

namespace payorch::metrics {

struct TimeWindow {
  int64_t since_ms = 0;  // inclusive
  int64_t until_ms = 0;  // exclusive
};

// External complaints per contract id.
using ExternalReports = std::map<std::string, int64_t>;

// Accepts either a map of counts or a list of complaints (each counts once):
//   external_reports: {plan/coverage: 17, idempotency/mismatch: 2}
//   complaints: [{contract_id: plan/coverage, merchant_id: m1, note: "..."}, ...]
// Returns the reports or a one-line error.
[[nodiscard]] std::variant<ExternalReports, std::string> ParseExternalReports(
    const std::string& yaml_text);

struct ContractRow {
  std::string id;
  int64_t count = 0;
  std::optional<int64_t> external_reports;  // absent when no external file was given
  bool mismatch = false;
};

struct RetrospectiveReport {
  TimeWindow window;
  std::vector<ContractRow> rows;  // every known contract id, then any other seen, by id
  int64_t total = 0;
  int64_t duplicates = 0;  // violation records dropped as repeats
  int mismatches = 0;
};

// mismatch: |count - external| > tolerance * max(count, external) (tolerance 0: any
// difference). Without external reports nothing is a mismatch.
[[nodiscard]] RetrospectiveReport BuildRetrospective(
    const std::vector<::payments::contracts::v1::ContractViolation>& violations,
    const TimeWindow& window, const ExternalReports* external, double tolerance = 0.0);

[[nodiscard]] std::string ToYaml(const RetrospectiveReport& report);

// "2024-05-01T00:00:00Z" (UTC), milliseconds since the epoch, or a duration before `now_ms`
// ("14d", "36h", "90m", "30s"). Returns false when it is none of these.
[[nodiscard]] bool ParseTimePoint(const std::string& text, int64_t now_ms, int64_t* out_ms);
[[nodiscard]] std::string FormatTimePoint(int64_t ms);

}  // namespace payorch::metrics
