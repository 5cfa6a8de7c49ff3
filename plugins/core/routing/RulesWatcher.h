// Reloads the rules when a file of the rules folder changes (inotify). Edits
// usually come as several events (editor temp files, renames): changes are
// gathered until the folder has been quiet for a moment, then reloaded once.
// A set that does not compile is refused by RuleBook and logged; the old set
// stays in force.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (a new watch
// and thread). The thread reads the (non-blocking) inotify descriptor every
// tick and waits between ticks on a Wakeup, which stop interrupts. Without
// inotify (logged) it is running without a thread.
//
// Thread safety: start(), stop() and state() from any thread; owns its own
// thread.
#pragma once

#include <thread>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/routing/RuleBook.h"

namespace router {

class RulesWatcher {
 public:
  RulesWatcher(std::string dir, RuleBook& rules, Log& log);
  ~RulesWatcher();
  RulesWatcher(const RulesWatcher&) = delete;
  RulesWatcher& operator=(const RulesWatcher&) = delete;
  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }

 private:
  void run(int fd);
  void reload();  // after a quiet moment: logs what became of it

  std::string dir_;
  RuleBook& rules_;
  Log& log_;
  Wakeup wakeup_;
  std::thread thread_;
  Lifecycle lifecycle_;
};

}  // namespace router
