#include "metrics/retrospective.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>
#include <tuple>

#include "metrics/contracts.h"

namespace payorch::metrics {

namespace cv = ::payments::contracts::v1;

std::variant<ExternalReports, std::string> ParseExternalReports(const std::string& yaml_text) {
  ExternalReports out;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsMap()) return std::string("external reports: expected a map at the top level");
    bool any = false;
    if (YAML::Node counts = root["external_reports"]) {
      any = true;
      if (!counts.IsMap()) return std::string("external_reports: expected a map id -> count");
      for (const auto& kv : counts) {
        const auto n = kv.second.as<int64_t>();
        if (n < 0) return "external_reports." + kv.first.as<std::string>() + ": negative count";
        out[kv.first.as<std::string>()] += n;
      }
    }
    if (YAML::Node list = root["complaints"]) {
      any = true;
      if (!list.IsSequence()) return std::string("complaints: expected a list");
      size_t i = 0;
      for (const auto& item : list) {
        const YAML::Node c = item;  // const: lookups must not insert keys
        YAML::Node id;
        if (c.IsMap()) id = c["contract_id"] ? c["contract_id"] : c["id"];
        if (!id || !id.IsScalar()) {
          return "complaints[" + std::to_string(i) + "]: no contract_id";
        }
        ++out[id.as<std::string>()];
        ++i;
      }
    }
    if (!any) return std::string("external reports: need 'external_reports' or 'complaints'");
  } catch (const YAML::Exception& e) {
    return std::string("external reports: ") + e.what();
  }
  return out;
}

RetrospectiveReport BuildRetrospective(const std::vector<cv::ContractViolation>& violations,
                                       const TimeWindow& window, const ExternalReports* external,
                                       double tolerance) {
  RetrospectiveReport r;
  r.window = window;
  std::map<std::string, int64_t> counts;
  for (std::string_view id : kContractIds) counts[std::string(id)] = 0;
  if (external != nullptr) {
    for (const auto& [id, n] : *external) counts.emplace(id, 0);
  }
  std::set<std::tuple<std::string, int32_t, int64_t, std::string>> seen;
  for (const auto& v : violations) {
    if (v.occurred_at_ms() < window.since_ms || v.occurred_at_ms() >= window.until_ms) continue;
    if (!seen.emplace(v.contract_id(), v.partition(), v.offset(), v.payment_id()).second) {
      ++r.duplicates;
      continue;
    }
    ++counts[v.contract_id()];
    ++r.total;
  }
  for (const auto& [id, count] : counts) {
    ContractRow row{id, count, std::nullopt, false};
    if (external != nullptr) {
      auto it = external->find(id);
      const int64_t ext = it == external->end() ? 0 : it->second;
      row.external_reports = ext;
      const double diff = std::fabs(static_cast<double>(count - ext));
      row.mismatch = diff > tolerance * static_cast<double>(std::max(count, ext));
      if (row.mismatch) ++r.mismatches;
    }
    r.rows.push_back(std::move(row));
  }
  return r;
}

std::string ToYaml(const RetrospectiveReport& report) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "retrospective" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "since" << YAML::Value << FormatTimePoint(report.window.since_ms);
  out << YAML::Key << "until" << YAML::Value << FormatTimePoint(report.window.until_ms);
  out << YAML::Key << "total_violations" << YAML::Value << report.total;
  out << YAML::Key << "duplicates_dropped" << YAML::Value << report.duplicates;
  out << YAML::Key << "mismatches" << YAML::Value << report.mismatches;
  out << YAML::EndMap;
  out << YAML::Key << "violations" << YAML::Value << YAML::BeginSeq;
  for (const ContractRow& row : report.rows) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << row.id;
    out << YAML::Key << "count" << YAML::Value << row.count;
    if (row.external_reports) {
      out << YAML::Key << "external_reports" << YAML::Value << *row.external_reports;
      out << YAML::Key << "mismatch" << YAML::Value << row.mismatch;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

bool ParseTimePoint(const std::string& text, int64_t now_ms, int64_t* out_ms) {
  if (text.empty()) return false;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (text.size() > 18) return false;
    *out_ms = std::stoll(text);
    return true;
  }
  const char unit = text.back();
  const std::string number = text.substr(0, text.size() - 1);
  if (!number.empty() && number.size() < 10 &&
      std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t scale = 0;
    switch (unit) {
      case 'd':
        scale = 86'400'000;
        break;
      case 'h':
        scale = 3'600'000;
        break;
      case 'm':
        scale = 60'000;
        break;
      case 's':
        scale = 1'000;
        break;
      default:
        return false;
    }
    *out_ms = now_ms - std::stoll(number) * scale;
    return true;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != static_cast<int>(text.size())) {
    return false;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *out_ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  return true;
}

std::string FormatTimePoint(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace payorch::metrics
