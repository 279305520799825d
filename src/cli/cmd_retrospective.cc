// payorch retrospective: the contract violations of a time window, per contract id, next
// to the merchants' complaints; exit 1 when they diverge, so a scheduler can escalate.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/kafka_flags.h"
#include "log/admin.h"
#include "log/partition_reader.h"
#include "metrics/retrospective.h"
#include "payments/contracts/v1/contracts.pb.h"

namespace payorch::cli {

namespace {
constexpr int kReadTimeoutMs = 30'000;

int Usage(const std::string& message) {
  std::fprintf(stderr, "payorch retrospective: %s\n", message.c_str());
  return 2;
}
}  // namespace

int RunRetrospective(int argc, char** argv) {
  log::KafkaOptions kafka;
  std::string since = "14d";
  std::string until;
  std::string external_path;
  std::string out_path;
  std::string tolerance_text = "0";
  FlagSet flags("retrospective",
                "Reads the contracts topic and reports, per contract id, the violations of\n"
                "[--since, --until) and, with --external, the complaints merchants reported for\n"
                "the same contracts (count, external_reports, mismatch) as YAML. Exits 1 when\n"
                "a contract's internal count and its external reports diverge.");
  AddKafkaFlags(flags, &kafka);
  flags.String("since", &since,
               "window start: RFC 3339 UTC (2024-05-01T00:00:00Z), epoch milliseconds, or a "
               "duration before now (14d, 36h, 90m)");
  flags.String("until", &until, "window end, same forms (default: now)");
  flags.String("external", &external_path,
               "YAML of merchant complaints: external_reports: {id: count} or complaints: "
               "[{contract_id: id}, ...]");
  flags.String("out", &out_path, "write the report here (default: stdout)");
  flags.String("tolerance", &tolerance_text,
               "relative difference allowed before a mismatch, 0..1 (default 0: any difference)");
  if (auto exit_code = flags.ParseCommandLine(argc, argv)) return *exit_code;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  metrics::TimeWindow window{0, now_ms + 1};
  if (!metrics::ParseTimePoint(since, now_ms, &window.since_ms)) {
    return Usage("--since: '" + since + "' is not a time (2024-05-01T00:00:00Z, ms, or 14d)");
  }
  if (!until.empty() && !metrics::ParseTimePoint(until, now_ms, &window.until_ms)) {
    return Usage("--until: '" + until + "' is not a time (2024-05-01T00:00:00Z, ms, or 14d)");
  }
  if (window.until_ms <= window.since_ms) return Usage("--until must be after --since");
  char* end = nullptr;
  const double tolerance = std::strtod(tolerance_text.c_str(), &end);
  if (tolerance_text.empty() || *end != '\0' || tolerance < 0 || tolerance > 1) {
    return Usage("--tolerance: '" + tolerance_text + "' is not a number in 0..1");
  }
  metrics::ExternalReports external;
  if (!external_path.empty()) {
    std::ifstream in(external_path);
    if (!in) return Usage("--external: cannot read " + external_path);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = metrics::ParseExternalReports(text.str());
    if (auto* err = std::get_if<std::string>(&parsed)) {
      return Usage("--external " + external_path + ": " + *err);
    }
    external = std::get<metrics::ExternalReports>(std::move(parsed));
  }
  if (std::string err = ResolveKafkaOptions(&kafka); !err.empty()) return Usage(err);
  if (kafka.bootstrap_servers.empty()) return Usage("--brokers or --bootstrap-file is required");

  const std::string topic = kafka.Topic(log::TopicKind::kContracts);
  auto admin = log::Admin::Create(kafka);
  if (!admin.ok()) {
    std::fprintf(stderr, "payorch retrospective: %s\n", admin.status().ToString().c_str());
    return 1;
  }
  auto partitions = admin.value()->PartitionCount(topic);
  if (!partitions.ok()) {
    std::fprintf(stderr, "payorch retrospective: %s: %s\n", topic.c_str(),
                 partitions.status().ToString().c_str());
    return 1;
  }
  std::vector<::payments::contracts::v1::ContractViolation> violations;
  int64_t undecodable = 0;
  for (int32_t p = 0; p < partitions.value(); ++p) {
    auto reader = log::PartitionReader::Open(kafka, topic, PartitionId{p}, log::kOffsetBeginning);
    if (!reader.ok()) {
      std::fprintf(stderr, "payorch retrospective: %s\n", reader.status().ToString().c_str());
      return 1;
    }
    auto read = reader.value()->ReadToEnd(
        [&](const log::Record& r) {
          ::payments::contracts::v1::ContractViolation v;
          if (v.ParseFromString(r.value)) {
            violations.push_back(std::move(v));
          } else {
            ++undecodable;
          }
        },
        kReadTimeoutMs);
    if (!read.ok()) {
      std::fprintf(stderr, "payorch retrospective: %s[%d]: %s\n", topic.c_str(), p,
                   read.status().ToString().c_str());
      return 1;
    }
  }
  if (undecodable > 0) {
    std::fprintf(stderr, "payorch retrospective: %lld undecodable records in %s skipped\n",
                 static_cast<long long>(undecodable), topic.c_str());
  }
  const metrics::RetrospectiveReport report = metrics::BuildRetrospective(
      violations, window, external_path.empty() ? nullptr : &external, tolerance);
  const std::string yaml = metrics::ToYaml(report);
  if (out_path.empty()) {
    std::fputs(yaml.c_str(), stdout);
  } else {
    std::ofstream out(out_path, std::ios::trunc);
    out << yaml;
    if (!out) {
      std::fprintf(stderr, "payorch retrospective: cannot write %s\n", out_path.c_str());
      return 1;
    }
  }
  if (report.mismatches > 0) {
    std::fprintf(stderr,
                 "payorch retrospective: %d contract(s) where internal violations and external "
                 "reports diverge\n",
                 report.mismatches);
    return 1;
  }
  return 0;
}

}  // namespace payorch::cli
