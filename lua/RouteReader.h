// Internal to lua/: reads what route() returned into Routes, checking it
// against the contract (a list of { destination=, transfer_syntax=, modify=,
// priority=, deidentify=, ... } with configured destinations, known syntaxes and tag names).
// Reads with raw access only, so no rule code runs while it reads.
//
// Thread safety: one per RuleEngine (it caches tag-name lookups), one thread
// at a time.
#pragma once

#include <lua.hpp>

#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugins/core/model/Route.h"

namespace router::lua {

class RouteReader {
 public:
  explicit RouteReader(std::set<std::string> destinations);

  // Reads the value at index. Returns the problem, in words for the rule
  // writer, when it is malformed. Must run inside a protected call (it may
  // raise a Lua memory error); may throw std::bad_alloc.
  std::optional<std::string> read(lua_State* L, int index, std::vector<Route>& routes);

 private:
  std::optional<std::string> readRoute(lua_State* L, int index, int number, Route& route);
  std::optional<std::string> readModify(lua_State* L, int index, TagEdits& edits);
  std::optional<std::string> readDeidentify(lua_State* L, int index, Deidentify& deidentify);
  // Empty when name is an editable DICOM keyword or "GGGG,EEEE"; else why not.
  const std::string& checkTagName(const std::string& name);
  std::string configuredList() const;

  std::set<std::string> destinations_;
  bool anyDestination_;
  std::unordered_map<std::string, std::string> tagNameProblems_;  // DCMTK lookups are slow
};

}  // namespace router::lua
