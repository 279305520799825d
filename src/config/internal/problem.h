// Internal: a located configuration problem and the index of source positions that
// locates it. Not part of the API.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

namespace payorch::config::internal {

// 1-based; line 0 means unknown.
struct Position {
  int line = 0;
  int column = 0;
};

// Source positions of the nodes of one document, keyed by field path
// ("merchants[0].profiles[1].method"). `values` holds where a value starts, `keys` where the
// key of a mapping entry starts.
struct PositionIndex {
  std::unordered_map<std::string, Position> values;
  std::unordered_map<std::string, Position> keys;

  // The position of `path` (its key if `at_key` and known), else of its nearest ancestor.
  Position Find(const std::string& path, bool at_key = false) const;
};

struct Problem {
  std::string path;     // empty: the document as a whole
  std::string message;  // what is wrong, without the path
  Position pos;
};

// "<source>[:line:col]: [path: ]message".
std::string FormatProblem(std::string_view source, const Problem& problem);

// Path helpers: Field("a", "b") == "a.b", Field("", "b") == "b", Index("a", 2) == "a[2]".
std::string Field(const std::string& parent, std::string_view name);
std::string Index(const std::string& parent, size_t index);

}  // namespace payorch::config::internal
