// Keeps the queue from growing with every instance ever received: once a
// minute, routed intake items older than Router.HistoryRetention leave the
// queue (delivered jobs leave it at once; dead letters and rule-failed items
// stay until an operator acts). The audit log is the long-term record.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (a new
// thread, which prunes at once); stop interrupts its wait between passes.
//
// Thread safety: start(), stop() and state() from any thread; the work runs
// on its own thread ("router-history").
#pragma once

#include <chrono>
#include <thread>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/queue/Queue.h"

namespace router {

class HistoryPruner {
 public:
  // interval: between two passes (the first comes at start).
  HistoryPruner(AdminQueue& queue, std::chrono::seconds retention, Log& log,
                std::chrono::milliseconds interval = std::chrono::minutes(1));
  ~HistoryPruner();
  HistoryPruner(const HistoryPruner&) = delete;
  HistoryPruner& operator=(const HistoryPruner&) = delete;

  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // One pass: forgets everything past the retention; returns how many items.
  int pruneOnce();

 private:
  AdminQueue& queue_;
  const std::chrono::seconds retention_;
  Log& log_;
  const std::chrono::milliseconds interval_;
  Wakeup wakeup_;
  std::thread thread_;
  Lifecycle lifecycle_;
};

}  // namespace router
