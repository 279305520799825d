#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/internal/json_text.h"
#include "config/internal/normalize.h"
#include "config/internal/problem.h"
#include "config/internal/validate.h"
#include "config/internal/yaml_json.h"

namespace payorch::config {

namespace {

using internal::FormatProblem;
using internal::Problem;

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<Format> FormatForPath(std::string_view path) {
  if (EndsWithNoCase(path, ".yaml") || EndsWithNoCase(path, ".yml")) return Format::kYaml;
  if (EndsWithNoCase(path, ".json")) return Format::kJson;
  return std::nullopt;
}

LoadResult LoadConfigText(std::string_view text, Format fmt, std::string_view source_name) {
  auto fail = [&](const Problem& p) { return LoadResult::Error(FormatProblem(source_name, p)); };

  nlohmann::ordered_json tree;
  internal::PositionIndex raw_positions;
  internal::NormalizeInput input;
  input.tree = &tree;
  input.scalars_are_strings = fmt == Format::kYaml;
  if (fmt == Format::kYaml) {
    if (auto p = internal::YamlToJson(text, &tree, &raw_positions)) return fail(*p);
    input.positions = &raw_positions;
  } else {
    if (auto p = internal::ParseJson(text, &tree)) return fail(*p);
  }

  internal::NormalizeOutput normalized;
  if (auto p = internal::Normalize(input, ::payments::config::v1::OrchestratorConfig::descriptor(),
                                   &normalized)) {
    return fail(*p);
  }

  ::payments::config::v1::OrchestratorConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status =
      google::protobuf::util::JsonStringToMessage(normalized.json.dump(), &config, options);
  if (!status.ok()) {  // the normaliser should have caught everything; report it anyway
    return fail(Problem{"", "Protobuf JSON parser: " + std::string(status.message()), {}});
  }

  if (auto p = internal::Validate(&config)) {
    p->pos = normalized.positions.Find(p->path);
    return fail(*p);
  }
  return LoadResult::Ok(std::move(config));
}

LoadResult LoadConfigFile(const std::string& path) {
  std::optional<Format> fmt = FormatForPath(path);
  if (!fmt) {
    return LoadResult::Error(path + ": unsupported file extension (expected .yaml, .yml or .json)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return LoadResult::Error(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return LoadResult::Error(path + ": cannot read: " + std::strerror(errno));
  return LoadConfigText(text.str(), *fmt, path);
}

}  // namespace payorch::config
