// A projection store in memory: the ViewSource a projection::Projector reads, written one
// Flush() at a time (as the runner's WriteBatch). For tests and the simulation.
//
//   testing::MapViewSource store;
//   projection::Projector projector(&store);
//   ...
//   store.Apply(projector.Flush());
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "projection/projector.h"

namespace payorch::testing {

class MapViewSource final : public projection::ViewSource {
 public:
  std::optional<std::string> Get(const std::string& key) const override {
    const auto it = data.find(key);
    if (it == data.end()) return std::nullopt;
    return it->second;
  }
  void Apply(std::vector<projection::Mutation> mutations) {
    for (projection::Mutation& m : mutations) data[m.key] = std::move(m.value);
  }

  std::map<std::string, std::string> data;
};

}  // namespace payorch::testing
