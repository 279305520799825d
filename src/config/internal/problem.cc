#include "config/internal/problem.h"

namespace payorch::config::internal {

namespace {

// "a.b[2]" -> "a.b"; "a.b" -> "a"; "a" -> "".
std::string Parent(const std::string& path) {
  size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

}  // namespace

Position PositionIndex::Find(const std::string& path, bool at_key) const {
  if (at_key) {
    if (auto it = keys.find(path); it != keys.end()) return it->second;
  }
  std::string p = path;
  while (true) {
    if (auto it = values.find(p); it != values.end() && it->second.line > 0) return it->second;
    if (p.empty()) return {};
    p = Parent(p);
  }
}

std::string FormatProblem(std::string_view source, const Problem& problem) {
  std::string out(source);
  if (problem.pos.line > 0) {
    out += ":" + std::to_string(problem.pos.line) + ":" + std::to_string(problem.pos.column);
  }
  out += ": ";
  if (!problem.path.empty()) out += problem.path + ": ";
  out += problem.message;
  // One line, always: a newline inside a value or a parser message would break log greps.
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string Field(const std::string& parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string out = parent;
  out += '.';
  out += name;
  return out;
}

std::string Index(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

}  // namespace payorch::config::internal
