// The rule set in force. Reload compiles the new set once as a trial; only if
// that succeeds is it published, and each routing worker then rebuilds its
// own Lua state from it before its next instance. A set that does not compile
// is refused whole and the old one stays in force.
//
// Thread safety: all methods may be called from any thread (a mutex guards
// the shared pointer; RuleSource itself is immutable).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <set>
#include <string>

#include "lua/RuleEngine.h"

namespace router {

class RuleBook {
 public:
  // Loads and compiles dir; throws RouterError / RuleCompileError.
  // projects: the de-identification projects routes may name
  // (Router.Deidentification); nullopt: any name.
  RuleBook(std::string dir, std::set<std::string> destinations, RuleLimits limits, Log& log,
           std::optional<std::set<std::string>> projects = std::nullopt);

  // Reloads from the folder. Throws (and keeps the old set) when the new set
  // cannot be read or does not compile. Returns the new version.
  std::string reload();

  std::shared_ptr<const RuleSource> current() const;
  uint64_t generation() const { return generation_.load(); }
  std::chrono::system_clock::time_point loadedAt() const;
  // The refusal of the newest reload, whoever asked for it (an operator, or
  // the watcher on a file change); nullopt once a reload succeeds.
  struct LoadError {
    RuleFailure failure;  // file and line when the engine knows them
    std::chrono::system_clock::time_point at;
  };
  std::optional<LoadError> lastError() const;

  // A worker's engine, rebuilt when the set in force changed.
  std::unique_ptr<RuleEngine> makeEngine() const;

  const std::set<std::string>& destinations() const { return destinations_; }

 private:
  std::string dir_;
  std::set<std::string> destinations_;
  std::optional<std::set<std::string>> projects_;
  RuleLimits limits_;
  Log& log_;
  mutable std::mutex mutex_;
  std::shared_ptr<const RuleSource> current_;
  std::chrono::system_clock::time_point loadedAt_;
  std::optional<LoadError> lastError_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace router
