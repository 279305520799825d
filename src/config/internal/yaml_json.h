// Internal: YAML text -> a generic JSON tree, keeping where each node came from.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "config/internal/problem.h"

namespace payorch::config::internal {

// Parses one YAML document. Every scalar becomes a JSON string (typing is left to the
// schema-aware normaliser, so `merchant_id: 007` stays "007"); null scalars (`~`, `null`,
// empty) become null. Positions are recorded under paths built from the keys as written.
// Fails on syntax errors (with line:column), duplicate keys and non-scalar keys.
std::optional<Problem> YamlToJson(std::string_view text, nlohmann::ordered_json* out,
                                  PositionIndex* positions);

}  // namespace payorch::config::internal
