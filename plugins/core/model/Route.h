// A routing decision: one destination, with the syntax and tag edits wanted
// there. Produced by the rules (lua/), stored with each queued job.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace router {

// keyword -> new value; std::nullopt removes the element.
using TagEdits = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct Route {
  std::string destination;
  std::string transferSyntax;  // UID; empty = as received
  TagEdits modify;
  int priority = 0;  // higher is sent first
};

}  // namespace router
