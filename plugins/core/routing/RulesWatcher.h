// Reloads the rules when a file of the rules folder changes (inotify). Edits
// usually come as several events (editor temp files, renames): changes are
// gathered until the folder has been quiet for a moment, then reloaded once.
// A set that does not compile is refused by RuleBook and logged; the old set
// stays in force.
//
// Thread safety: start/stop from one thread; owns its own thread.
#pragma once

#include <atomic>
#include <thread>

#include "plugins/core/Log.h"
#include "plugins/core/routing/RuleBook.h"

namespace router {

class RulesWatcher {
 public:
  RulesWatcher(std::string dir, RuleBook& rules, Log& log);
  ~RulesWatcher();
  void start();
  void stop();

 private:
  void run(int fd);

  std::string dir_;
  RuleBook& rules_;
  Log& log_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace router
