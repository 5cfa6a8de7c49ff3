// The Lua rule engine: loads every *.lua of a rules folder, in name order,
// into one sandboxed Lua 5.4 state and calls the rules' global
// route(instance) for each instance.
//
// Thread safety: a RuleEngine is NOT shared. Each routing worker owns one
// (its own lua_State, rules compiled once). RuleSource is immutable and may be
// shared between threads through std::shared_ptr<const RuleSource>.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "plugins/core/Error.h"
#include "plugins/core/Log.h"
#include "plugins/core/model/Instance.h"
#include "plugins/core/model/Route.h"
#include "plugins/core/model/Study.h"

namespace router {

// The text of a rule set, read once from the rules folder.
struct RuleSource {
  struct File {
    std::string name;  // file name, e.g. "10-ct.lua"
    std::string code;
  };
  std::vector<File> files;  // in name order
  std::string version;      // hash of names and contents, hex
  std::string directory;

  // Reads every *.lua file of dir in name order. Throws RouterError if the
  // folder is missing, unreadable or has no *.lua file.
  static RuleSource loadDirectory(const std::string& dir);
};

struct RuleLimits {
  uint64_t instructionBudget = 1000000;  // Lua VM instructions per route() call
  size_t memoryBytes = 64u << 20;        // per Lua state
  // Wall-clock backstop per call, for work done inside library functions
  // that instructions do not measure (allocations, sorting and searching are
  // charged to the instruction budget as well).
  std::chrono::milliseconds timeLimit{500};
};

// Where and why a rule failed, for the log and the REST answers.
struct RuleFailure {
  std::string file;  // rule file name, empty if unknown
  int line = 0;      // 0 if unknown
  std::string message;
  std::string describe() const;  // "10-ct.lua:12: attempt to index a nil value"
};

// A rule set that does not compile, or fails its self-check: refused as a whole.
class RuleCompileError : public RouterError {
 public:
  explicit RuleCompileError(RuleFailure failure)
      : RouterError(failure.describe()), failure_(std::move(failure)) {}
  const RuleFailure& failure() const { return failure_; }

 private:
  RuleFailure failure_;
};

struct RouteDecision {
  std::vector<Route> routes;           // valid only when !failure
  std::optional<RuleFailure> failure;  // error, budget overrun, malformed result
};

class RuleEngine {
 public:
  // In the destinations set, accepts any destination name (the offline CLI
  // without a configuration).
  static constexpr const char* kAnyDestination = "*";

  // Compiles every file and checks that route() is defined. destinations is
  // the set of configured destination names: a route naming another one is a
  // rule failure. Throws RuleCompileError.
  RuleEngine(const RuleSource& source, std::set<std::string> destinations, RuleLimits limits,
             Log& log);
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Never throws for a rule problem: it comes back in RouteDecision::failure.
  // No routes when the rules define only route_study().
  RouteDecision route(const InstanceView& instance);

  // Set when the rules define route_study(study): when a study is complete
  // for it (the global study_complete, or the defaults).
  const std::optional<Completion>& studyCompletion() const;
  // The route that puts an instance into the batch its study's decision waits
  // on (destination kStudyDecision); only with studyCompletion().
  Route studyDecisionRoute(const InstanceView& instance) const;
  // Calls route_study(study). Its routes may name series (Route::series).
  RouteDecision routeStudy(const StudySummary& study);

  const std::string& version() const;
  // The de-identification projects a route's deidentify may name; a route
  // naming another one is a rule failure. Not called: any name.
  void limitProjects(std::set<std::string> projects);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace router
