// Releases series and studies when they are complete (Completion in
// model/Route.h: quiet time, expected count, maximum wait). Everything it
// decides from is in the queue (first and last arrival, counts), so a
// restart, even a kill -9, resumes every wait where it was: a batch whose
// quiet time ran out while the appliance was down is released at start.
// Each released batch is handed to onReleased (the Router wakes delivery).
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works; stop
// interrupts its wait.
//
// Thread safety: start(), stop(), state() and wake() from any thread; the
// work runs on its own thread ("router-batches").
#pragma once

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"

namespace router {

class BatchReleaser {
 public:
  using OnReleased = std::function<void(const Batch&)>;
  using Now = std::function<Clock::time_point()>;
  // poll: the longest wait between two looks (the queue says when the next
  // batch is due; this bounds a wall-clock jump).
  BatchReleaser(BatchQueue& queue, Log& log, Metrics& metrics, OnReleased onReleased, Now now = Clock::now,
                std::chrono::milliseconds poll = std::chrono::seconds(1));
  ~BatchReleaser();
  BatchReleaser(const BatchReleaser&) = delete;
  BatchReleaser& operator=(const BatchReleaser&) = delete;

  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // An instance joined a batch (an expected count may be reached).
  void wake() { wakeup_.notify(); }
  // One look: releases what is due; returns when the next batch is due.
  std::optional<Clock::time_point> releaseOnce();

 private:
  BatchQueue& queue_;
  Log& log_;
  Metrics& metrics_;
  OnReleased onReleased_;
  Now now_;
  const std::chrono::milliseconds poll_;
  Wakeup wakeup_;
  std::thread thread_;
  Lifecycle lifecycle_;
};

}  // namespace router
