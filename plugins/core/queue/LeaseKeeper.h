// Keeps this node's claims on a shared queue (Queue.h, QueueNode): every
// lease/3 it renews the leases of what this node is routing or sending, and
// takes back what another node left in flight past its lease (that node
// died or lost the database). A queue of one node (SQLite) answers at once
// with nothing to do.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (a new
// thread, which beats at once); stop interrupts its wait between beats.
//
// Thread safety: start(), stop() and state() from any thread; the work runs
// on its own thread ("router-lease").
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/queue/Queue.h"

namespace router {

class LeaseKeeper {
 public:
  // onTakenOver: work came back to waiting (wake routing and delivery).
  LeaseKeeper(AdminQueue& queue, std::chrono::seconds lease, Log& log, std::function<void()> onTakenOver);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // One beat, at `now`.
  Heartbeat beatOnce(Clock::time_point now);

 private:
  AdminQueue& queue_;
  const std::chrono::milliseconds interval_;
  Log& log_;
  std::function<void()> onTakenOver_;
  Wakeup wakeup_;
  std::thread thread_;
  Lifecycle lifecycle_;
};

}  // namespace router
