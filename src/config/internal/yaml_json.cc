#include "config/internal/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <string>

namespace payorch::config::internal {

namespace {

Position ToPosition(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

std::optional<Problem> Convert(const YAML::Node& node, const std::string& path,
                               nlohmann::ordered_json* out, PositionIndex* positions) {
  positions->values[path] = ToPosition(node.Mark());
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      *out = nullptr;
      return std::nullopt;
    case YAML::NodeType::Scalar:
      *out = node.Scalar();
      return std::nullopt;
    case YAML::NodeType::Sequence: {
      *out = nlohmann::ordered_json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        nlohmann::ordered_json element;
        if (auto p = Convert(node[i], Index(path, i), &element, positions)) return p;
        out->push_back(std::move(element));
      }
      return std::nullopt;
    }
    case YAML::NodeType::Map: {
      *out = nlohmann::ordered_json::object();
      for (const auto& entry : node) {
        // Copies: the iterator's pair is a temporary, and a Node is a cheap handle.
        const YAML::Node key = entry.first;
        const YAML::Node value_node = entry.second;
        if (!key.IsScalar()) {
          return Problem{path, "mapping keys must be plain names", ToPosition(key.Mark())};
        }
        const std::string& name = key.Scalar();
        std::string child = Field(path, name);
        if (out->contains(name)) {
          return Problem{path, "duplicate key \"" + name + "\"", ToPosition(key.Mark())};
        }
        positions->keys[child] = ToPosition(key.Mark());
        nlohmann::ordered_json value;
        if (auto p = Convert(value_node, child, &value, positions)) return p;
        (*out)[name] = std::move(value);
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Problem> YamlToJson(std::string_view text, nlohmann::ordered_json* out,
                                  PositionIndex* positions) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Problem{"", "YAML syntax error: " + e.msg, ToPosition(e.mark)};
  }
  try {
    return Convert(root, "", out, positions);
  } catch (const YAML::Exception& e) {  // not expected after a successful Load
    return Problem{"", "YAML error: " + e.msg, ToPosition(e.mark)};
  }
}

}  // namespace payorch::config::internal
