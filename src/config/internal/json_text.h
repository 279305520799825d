// Internal: JSON text -> a generic JSON tree, rejecting duplicate keys.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "config/internal/problem.h"

namespace payorch::config::internal {

// Fails on syntax errors (with line:column) and on a key repeated within one object
// (with the object's path), which plain JSON parsers silently resolve to the last value.
std::optional<Problem> ParseJson(std::string_view text, nlohmann::ordered_json* out);

}  // namespace payorch::config::internal
