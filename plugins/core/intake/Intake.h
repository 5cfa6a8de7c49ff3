// Where an instance enters: one thread that reads Orthanc's changes log from
// the last recorded sequence number and writes every NewInstance into the
// durable queue, together with the new sequence number, in one transaction.
//
// Why the changes log and not the OnChange callback's arguments: the callback
// carries no sequence number and runs after Orthanc committed the change, so
// an instance stored just before a kill -9 would be lost. Reading the log by
// sequence number takes in every change exactly once, including those made
// while the plugin was down. The OnChange callback only wakes this thread.
// Changes may become visible out of order (ChangeCursor.h): the cursor waits
// at a gap, and the changes after it are taken in meanwhile.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (a new thread
// reads on from the recorded sequence number); stop interrupts its wait.
//
// Thread safety: wake(), state(), start() and stop() may be called from any
// thread.
#pragma once

#include <chrono>
#include <optional>
#include <thread>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/intake/ChangeCursor.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"

namespace router {

class Intake {
 public:
  // pollInterval: how often the log is read without a wake() (a safety net:
  // the OnChange callback wakes the thread at once). gapGrace: how long the
  // cursor waits at a missing sequence number (ChangeCursor.h).
  Intake(InstanceStore& store, IntakeQueue& queue, Log& log, Metrics& metrics, Wakeup& routingWakeup,
         bool routeResentInstances, std::chrono::milliseconds pollInterval = std::chrono::seconds(2),
         std::chrono::milliseconds gapGrace = std::chrono::seconds(30));
  ~Intake();
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;
  // On a new queue, marks the current end of Orthanc's changes log as where
  // intake begins. Called first at start, before anything slow, so that an
  // instance stored while the other stages start is not skipped.
  void anchor();
  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  void wake() { wakeup_.notify(); }
  // One pass over the changes log; returns how many instances were taken in.
  // Public for tests; the thread calls it in a loop.
  int pollOnce();

 private:
  void run();

  InstanceStore& store_;
  IntakeQueue& queue_;
  Log& log_;
  Metrics& metrics_;
  Wakeup& routingWakeup_;
  bool routeResentInstances_;
  const std::chrono::milliseconds pollInterval_;
  ChangeCursor cursor_;  // the intake thread's (pollOnce)
  std::optional<int64_t> written_;  // the cursor pollOnce last wrote, while changes keep coming
  Wakeup wakeup_;
  std::thread thread_;
  Lifecycle lifecycle_;
};

}  // namespace router
