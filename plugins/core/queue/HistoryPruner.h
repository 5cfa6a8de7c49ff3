// Keeps the queue from growing with every instance ever received: once a
// minute, routed intake items older than Router.HistoryRetention leave the
// queue (delivered jobs leave it at once; dead letters and rule-failed items
// stay until an operator acts). The audit log is the long-term record.
//
// Thread safety: start() and stop() from one thread; the work runs on its own
// thread ("router-history").
#pragma once

#include <chrono>
#include <thread>

#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/queue/Queue.h"

namespace router {

class HistoryPruner {
 public:
  HistoryPruner(AdminQueue& queue, std::chrono::seconds retention, Log& log);
  ~HistoryPruner();
  HistoryPruner(const HistoryPruner&) = delete;
  HistoryPruner& operator=(const HistoryPruner&) = delete;

  void start();
  void stop();
  // One pass: forgets everything past the retention; returns how many items.
  int pruneOnce();

 private:
  AdminQueue& queue_;
  const std::chrono::seconds retention_;
  Log& log_;
  Wakeup wakeup_;
  std::thread thread_;
};

}  // namespace router
