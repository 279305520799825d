#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

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

// A YAML alias expands to a copy of its anchor's node: "a: &x [*x]" is a cycle (endless
// recursion in the conversion) and nested aliases grow exponentially ("billion laughs").
// Walks the loaded document without recursion and refuses one that expands to more than
// kMaxYamlNodes nodes or nests deeper than kMaxYamlDepth, before it is converted.
constexpr size_t kMaxYamlNodes = 100'000;
constexpr size_t kMaxYamlDepth = 64;

std::optional<Problem> CheckYamlSize(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;  // the conversion reports syntax errors with their position
  }
  std::vector<std::pair<YAML::Node, size_t>> stack = {{root, 1}};
  size_t nodes = 0;
  while (!stack.empty()) {
    auto [node, depth] = std::move(stack.back());
    stack.pop_back();
    if (++nodes > kMaxYamlNodes) {
      return Problem{
          "", "the YAML document expands to more than 100000 nodes (an alias cycle?)", {}};
    }
    if (depth > kMaxYamlDepth) {
      return Problem{"", "the YAML document nests deeper than 64 levels", {}};
    }
    if (node.IsSequence()) {
      for (const auto& child : node) stack.emplace_back(child, depth + 1);
    } else if (node.IsMap()) {
      for (const auto& entry : node) {
        stack.emplace_back(entry.first, depth + 1);
        stack.emplace_back(entry.second, depth + 1);
      }
    }
  }
  return std::nullopt;
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
    if (auto p = CheckYamlSize(text)) return fail(*p);
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
