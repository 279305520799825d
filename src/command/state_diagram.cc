#include "command/state_diagram.h"

#include <algorithm>

namespace payorch::command {

std::string MermaidStateDiagram(std::span<const DiagramEdge> edges,
                                std::span<const std::string_view> terminal) {
  std::string out = "stateDiagram-v2\n";
  for (auto it = edges.begin(); it != edges.end(); ++it) {
    const auto same_pair = [&](const DiagramEdge& o) {
      return o.from == it->from && o.to == it->to;
    };
    if (std::any_of(edges.begin(), it, same_pair)) continue;  // labelled at its first line
    out += "    ";
    out += it->from.empty() ? std::string_view("[*]") : it->from;
    out += " --> ";
    out += it->to;
    out += " : ";
    std::string_view sep;
    for (const DiagramEdge& o : edges) {
      if (!same_pair(o)) continue;
      out += sep;
      out += o.trigger;
      sep = ", ";
    }
    out += '\n';
  }
  for (std::string_view status : terminal) {
    out += "    ";
    out += status;
    out += " --> [*]\n";
  }
  return out;
}

}  // namespace payorch::command
