// Lifecycle and Wakeup: the states a component goes through, start after
// stop, stop without start, a start that throws, one transition at a time,
// and a stop that interrupts a long wait. No test measures time: a stop that
// did not interrupt its wait hangs, and ctest's timeout catches it.
#include "plugins/core/Lifecycle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace router {
namespace {

using namespace std::chrono_literals;

// A component with one thread that waits an hour between two rounds.
class Sleeper {
 public:
  Sleeper() { lifecycle.interrupts(wakeup); }
  ~Sleeper() { lifecycle.stop(); }
  void start() {
    lifecycle.start([this] {
      thread = std::thread([this] {
        while (!wakeup.stopped()) {
          uint64_t seen = wakeup.generation();
          ++rounds;
          wakeup.waitFor(seen, 1h);
        }
      });
    });
  }
  Wakeup wakeup;
  std::thread thread;
  std::atomic<int> rounds{0};
  std::atomic<int> halts{0};
  Lifecycle lifecycle{[this] {
    ++halts;
    if (thread.joinable()) thread.join();
  }};
};

TEST(RunStateTest, NamesAreTheOnesStatusShows) {
  EXPECT_STREQ(toString(RunState::Created), "created");
  EXPECT_STREQ(toString(RunState::Running), "running");
  EXPECT_STREQ(toString(RunState::Stopping), "stopping");
  EXPECT_STREQ(toString(RunState::Stopped), "stopped");
}

TEST(LifecycleTest, StartStopStartAgain) {
  Sleeper s;
  EXPECT_EQ(s.lifecycle.state(), RunState::Created);
  s.start();
  EXPECT_EQ(s.lifecycle.state(), RunState::Running);
  EXPECT_TRUE(s.lifecycle.running());
  EXPECT_TRUE(s.lifecycle.stop());  // the thread was waiting an hour
  EXPECT_EQ(s.lifecycle.state(), RunState::Stopped);
  EXPECT_FALSE(s.thread.joinable());
  const int before = s.rounds;

  s.start();  // the Wakeup is rearmed: the new thread runs rounds again
  EXPECT_EQ(s.lifecycle.state(), RunState::Running);
  while (s.rounds < before + 1) std::this_thread::yield();  // it has read the generation
  s.wakeup.notify();
  while (s.rounds < before + 2) std::this_thread::yield();
  EXPECT_FALSE(s.wakeup.stopped());
  EXPECT_TRUE(s.lifecycle.stop());
  EXPECT_EQ(s.lifecycle.state(), RunState::Stopped);
  EXPECT_EQ(s.halts, 2);
}

TEST(LifecycleTest, StopWithoutStartIsFineAndStopIsIdempotent) {
  Sleeper s;
  EXPECT_FALSE(s.lifecycle.stop());
  EXPECT_EQ(s.lifecycle.state(), RunState::Stopped);
  EXPECT_EQ(s.halts, 0);
  s.start();
  EXPECT_TRUE(s.lifecycle.stop());
  EXPECT_FALSE(s.lifecycle.stop());
  EXPECT_EQ(s.lifecycle.state(), RunState::Stopped);
  EXPECT_EQ(s.halts, 1);
}

TEST(LifecycleTest, StartWhileRunningDoesNothing) {
  Sleeper s;
  s.start();
  int begun = 0;
  EXPECT_FALSE(s.lifecycle.start([&] { ++begun; }));
  EXPECT_EQ(begun, 0);
  EXPECT_EQ(s.lifecycle.state(), RunState::Running);
}

TEST(LifecycleTest, TheStateIsStoppingWhileTheHaltRuns) {
  RunState during = RunState::Created;
  Lifecycle* self = nullptr;
  Lifecycle lifecycle([&] { during = self->state(); });
  self = &lifecycle;
  lifecycle.start([] {});
  lifecycle.stop();
  EXPECT_EQ(during, RunState::Stopping);
}

TEST(LifecycleTest, AStartThatThrowsIsUndoneAndMayBeTriedAgain) {
  int halts = 0;
  Lifecycle lifecycle([&] { ++halts; });
  EXPECT_THROW(lifecycle.start([] { throw std::runtime_error("cannot start"); }), std::runtime_error);
  EXPECT_EQ(halts, 1);  // what had started is ended
  EXPECT_EQ(lifecycle.state(), RunState::Stopped);
  EXPECT_TRUE(lifecycle.start([] {}));
  EXPECT_EQ(lifecycle.state(), RunState::Running);
}

TEST(LifecycleTest, AStartDuringAStopBeginsOnceTheStopHasEnded) {
  std::mutex mutex;
  std::vector<std::string> events;
  auto record = [&](const std::string& e) {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(e);
  };
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Lifecycle lifecycle([&] {
    released.wait();
    record("halted");
  });
  lifecycle.start([] {});
  std::thread stopper([&] { lifecycle.stop(); });
  while (lifecycle.state() != RunState::Stopping) std::this_thread::yield();
  std::thread starter([&] { lifecycle.start([&] { record("begun"); }); });
  release.set_value();
  stopper.join();
  starter.join();
  EXPECT_EQ(events, (std::vector<std::string>{"halted", "begun"}));
  EXPECT_EQ(lifecycle.state(), RunState::Running);
}

TEST(LifecycleTest, TheStateMayBeReadWhileOtherThreadsStartAndStop) {
  Sleeper s;
  std::atomic<bool> done{false};
  std::atomic<int> seenRunning{0};
  std::thread reader([&] {
    while (!done) seenRunning += s.lifecycle.state() == RunState::Running;
  });
  std::thread other([&] {
    for (int i = 0; i < 20; ++i) s.lifecycle.stop();
  });
  for (int i = 0; i < 20; ++i) {
    s.start();
    s.lifecycle.stop();
  }
  other.join();
  done = true;
  reader.join();
  EXPECT_EQ(s.lifecycle.state(), RunState::Stopped);
  EXPECT_FALSE(s.thread.joinable());
}

TEST(WakeupTest, AWaitWithoutDeadlineReturnsOnNotifyAndOnStop) {
  Wakeup wakeup;
  uint64_t seen = wakeup.generation();
  std::thread notifier([&] { wakeup.notify(); });
  wakeup.wait(seen);  // returns: notified since seen
  notifier.join();
  EXPECT_NE(wakeup.generation(), seen);

  seen = wakeup.generation();
  std::thread stopper([&] { wakeup.stop(); });
  wakeup.wait(seen);
  stopper.join();
  EXPECT_TRUE(wakeup.stopped());
  wakeup.rearm();
  EXPECT_FALSE(wakeup.stopped());
}

}  // namespace
}  // namespace router
