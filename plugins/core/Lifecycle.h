// The one lifecycle of the Router and of each of its threaded components
// (Intake, Routing, RulesWatcher, Delivery and its Preparation pool,
// HistoryPruner, WorkerPool):
//
//   Created --start()--> Running --stop()--> Stopping --> Stopped --start()--> Running ...
//
// - start() from Created or Stopped rearms the component's Wakeups, runs its
//   start (new threads) and then the state is Running. While Running it does
//   nothing. If the start throws, the component's halt undoes what had
//   started, the state is Stopped and the exception goes on to the caller.
// - stop() makes the state Stopping, stops every Wakeup the component
//   registered with interrupts() — so each wait of its threads (idle polls,
//   backoffs, prepare-ahead, the rules watcher's tick, the pruner's interval)
//   returns at once — then runs its halt (joins the threads): Stopped. It is
//   idempotent, and fine without a start (Created -> Stopped, nothing to end).
// - Start after stop works for every component: the Wakeups are rearmed and
//   new threads made; no component refuses it.
//
// Thread safety: state() from any thread, lock-free (REST status reads it
// while Orthanc's callbacks start and stop). start() and stop() from any
// thread: one transition at a time, a second caller waits until the first
// has ended (a start() during a stop() starts once the stop is complete). A
// component's own threads must not call them (the stop joins those threads).
// interrupts() only before the first start().
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "plugins/core/Wakeup.h"

namespace router {

enum class RunState { Created, Running, Stopping, Stopped };

// "created", "running", "stopping", "stopped" (GET /router/status "State").
const char* toString(RunState state);

class Lifecycle {
 public:
  // halt: ends what a start began, e.g. joins the threads; it must also
  // cope with a start that stopped half way (it is how that is undone).
  explicit Lifecycle(std::function<void()> halt) : halt_(std::move(halt)) {}
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // A Wakeup some thread of the component waits on: stop() stops it first,
  // start() rearms it.
  void interrupts(Wakeup& wakeup) { wakeups_.push_back(&wakeup); }

  RunState state() const { return state_.load(); }
  bool running() const { return state() == RunState::Running; }

  // Returns false (and does nothing) when already running.
  bool start(const std::function<void()>& begin);
  // Returns false when nothing was running.
  bool stop();

 private:
  void end();  // under transition_

  const std::function<void()> halt_;
  std::vector<Wakeup*> wakeups_;
  std::mutex transition_;  // held for the whole of a start() or stop()
  std::atomic<RunState> state_{RunState::Created};
};

}  // namespace router
