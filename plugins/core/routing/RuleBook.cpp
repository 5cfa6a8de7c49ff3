#include "plugins/core/routing/RuleBook.h"

namespace router {

RuleBook::RuleBook(std::string dir, std::set<std::string> destinations, RuleLimits limits, Log& log,
                   std::optional<std::set<std::string>> projects)
    : dir_(std::move(dir)),
      destinations_(std::move(destinations)),
      projects_(std::move(projects)),
      limits_(limits),
      log_(log) {
  reload();
}

std::string RuleBook::reload() {
  std::shared_ptr<const RuleSource> source;
  try {
    source = std::make_shared<const RuleSource>(RuleSource::loadDirectory(dir_));
    RuleEngine trial(*source, destinations_, limits_, log_);  // throws: the old set stays
  } catch (const std::exception& e) {
    const auto* compile = dynamic_cast<const RuleCompileError*>(&e);
    std::lock_guard<std::mutex> lock(mutex_);
    lastError_ = LoadError{compile ? compile->failure() : RuleFailure{"", 0, e.what()},
                           std::chrono::system_clock::now()};
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = source;
    loadedAt_ = std::chrono::system_clock::now();
    lastError_.reset();
  }
  generation_.fetch_add(1);
  log_.info("rules: loaded " + std::to_string(source->files.size()) + " file(s) from " + dir_ +
            ", version " + source->version);
  return source->version;
}

std::shared_ptr<const RuleSource> RuleBook::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

std::optional<RuleBook::LoadError> RuleBook::lastError() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lastError_;
}

std::chrono::system_clock::time_point RuleBook::loadedAt() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loadedAt_;
}

std::unique_ptr<RuleEngine> RuleBook::makeEngine() const {
  auto engine = std::make_unique<RuleEngine>(*current(), destinations_, limits_, log_);
  if (projects_) engine->limitProjects(*projects_);
  return engine;
}

}  // namespace router
