// A Mermaid state diagram of a status edge list, as the aggregates' READMEs show their
// lifecycles (payments: transitions.h, orders: order/transitions.h). One line per
// (from, to), in the order the pairs first appear, labelled with that pair's triggers;
// then one line per terminal status. An empty `from` is the start ([*]).
//
//   std::vector<DiagramEdge> edges = {{"", "open", "Created"}, {"open", "paid", "Paid"}};
//   MermaidStateDiagram(edges, {"paid"});
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace payorch::command {

struct DiagramEdge {
  std::string_view from;
  std::string_view to;
  std::string_view trigger;
};

std::string MermaidStateDiagram(std::span<const DiagramEdge> edges,
                                std::span<const std::string_view> terminal);

}  // namespace payorch::command
