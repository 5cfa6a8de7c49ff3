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
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugins/core/model/Instance.h"
#include "plugins/core/model/Route.h"

namespace router::lua {

// Whether the instance meets one required series of a study route.
bool meets(const Requirement& requirement, const InstanceView& instance);

class RouteReader {
 public:
  explicit RouteReader(std::set<std::string> destinations);

  // Reads the value at index. Returns the problem, in words for the rule
  // writer, when it is malformed. Must run inside a protected call (it may
  // raise a Lua memory error); may throw std::bad_alloc.
  // studySeries: reading route_study()'s answer, whose routes may name some
  // of these series (and have no completion fields).
  std::optional<std::string> read(lua_State* L, int index, std::vector<Route>& routes,
                                  const std::set<std::string>* studySeries = nullptr);
  // The global study_complete = { quiet, max_wait, required, late }.
  std::optional<std::string> readStudyCompletion(lua_State* L, int index, Completion& completion);
  // See RuleEngine::limitProjects.
  void limitProjects(std::set<std::string> projects) { projects_ = std::move(projects); }

 private:
  std::optional<std::string> readRoute(lua_State* L, int index, int number, Route& route);
  std::optional<std::string> readModify(lua_State* L, int index, TagEdits& edits);
  std::optional<std::string> readRequired(lua_State* L, int index, std::vector<Requirement>& required);
  std::optional<std::string> readSeries(lua_State* L, int index, std::vector<std::string>& series);
  std::optional<std::string> readCompletionNumber(lua_State* L, int value, std::string_view field,
                                                  Completion& completion);
  std::optional<std::string> readDeidentify(lua_State* L, int index, Deidentify& deidentify);
  // Empty when name is an editable DICOM keyword or "GGGG,EEEE"; else why not.
  const std::string& checkTagName(const std::string& name);
  std::string configuredList() const;

  std::set<std::string> destinations_;
  bool anyDestination_;
  std::unordered_map<std::string, std::string> tagNameProblems_;  // DCMTK lookups are slow
  const std::set<std::string>* studySeries_ = nullptr;
  std::optional<std::set<std::string>> projects_;  // nullopt: any project  // during read() of route_study()'s answer
};

}  // namespace router::lua
