// Intake: every NewInstance of the changes log is taken in exactly once, in
// pages, across restarts. The store here is an in-memory changes log: the
// real Orthanc one is exercised by the integration tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include "plugins/core/intake/Intake.h"
#include "tests/unit/memory_orthanc.h"

namespace router {
namespace {

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("router-intake-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sqlite");
    std::filesystem::remove(path_);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }
  std::filesystem::path path_;
  StderrLog log_;
  Metrics metrics_;
  Wakeup routing_;
};

TEST_F(IntakeTest, TakesEveryChangeOnceAcrossPagesAndRestarts) {
  MemoryOrthanc store;
  {
    auto queue = openSqliteQueue(path_.string());
    queue->recordChanges({}, 0, false);  // an existing queue, from sequence 0
    Intake intake(store, *queue, log_, metrics_, routing_, true);
    store.add(450);
    EXPECT_EQ(intake.pollOnce(), 450);
    EXPECT_EQ(intake.pollOnce(), 0);
    EXPECT_EQ(queue->lastChangeSeq().value(), 450);
  }
  // Changes made while the router was down are taken in after the restart.
  store.add(7);
  auto queue = openSqliteQueue(path_.string());
  Intake intake(store, *queue, log_, metrics_, routing_, true);
  EXPECT_EQ(intake.pollOnce(), 7);
  int count = 0;
  while (auto item = queue->claimIntake()) {
    ++count;
    EXPECT_EQ(item->instanceId, "instance-" + std::to_string(item->changeSeq));
  }
  EXPECT_EQ(count, 457);
}

// Two Orthanc servers on one PostgreSQL index: change 2 committed while
// change 1's transaction still runs. The cursor waits at 1; 1 is taken in
// when it appears, and 2 is not taken in twice.
TEST_F(IntakeTest, AChangeThatBecomesVisibleLateIsTakenIn) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  queue->recordChanges({}, 0, false);
  Intake intake(store, *queue, log_, metrics_, routing_, false, std::chrono::seconds(2), std::chrono::hours(1));
  const int64_t late = store.reserve();
  store.add(3);
  EXPECT_EQ(intake.pollOnce(), 3);
  EXPECT_EQ(queue->lastChangeSeq().value(), 0);  // waits at the gap
  EXPECT_EQ(intake.pollOnce(), 0);               // read again: nothing twice
  store.commit(late);
  EXPECT_EQ(intake.pollOnce(), 1);
  EXPECT_EQ(queue->lastChangeSeq().value(), 4);
  std::set<std::string> ids;
  while (auto item = queue->claimIntake()) ids.insert(item->instanceId);
  EXPECT_EQ(ids, (std::set<std::string>{"instance-1", "instance-2", "instance-3", "instance-4"}));
}

// A number drawn by a transaction that rolled back never appears: the
// cursor passes it once the grace is over, and what came after was taken in
// meanwhile.
TEST_F(IntakeTest, TheCursorPassesAGapThatNeverFillsAfterTheGrace) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  queue->recordChanges({}, 0, false);
  Intake intake(store, *queue, log_, metrics_, routing_, true, std::chrono::seconds(2),
                std::chrono::milliseconds(200));
  store.add(2);
  store.reserve();  // 3: never committed
  store.add(2);
  EXPECT_EQ(intake.pollOnce(), 4);
  EXPECT_EQ(queue->lastChangeSeq().value(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(intake.pollOnce(), 0);
  EXPECT_EQ(queue->lastChangeSeq().value(), 5);
  store.add(1);
  EXPECT_EQ(intake.pollOnce(), 1);
  EXPECT_EQ(queue->lastChangeSeq().value(), 6);  // no gap: at once
}

// A node restarted while the cursor waited at a gap reads again from the
// cursor: what it recorded before is not taken in twice.
TEST_F(IntakeTest, ARestartAtAGapTakesNothingInTwice) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  queue->recordChanges({}, 0, false);
  const int64_t late = store.reserve();
  store.add(5);
  {
    Intake intake(store, *queue, log_, metrics_, routing_, true, std::chrono::seconds(2), std::chrono::hours(1));
    EXPECT_EQ(intake.pollOnce(), 5);
  }
  Intake intake(store, *queue, log_, metrics_, routing_, true, std::chrono::seconds(2), std::chrono::hours(1));
  EXPECT_EQ(intake.pollOnce(), 0);
  store.commit(late);
  EXPECT_EQ(intake.pollOnce(), 1);
  int count = 0;
  while (queue->claimIntake()) ++count;
  EXPECT_EQ(count, 6);
}

TEST_F(IntakeTest, ANewQueueStartsAtTheCurrentEndOfTheLog) {
  MemoryOrthanc store;
  store.add(30);  // stored before the router was installed
  auto queue = openSqliteQueue(path_.string());
  Intake intake(store, *queue, log_, metrics_, routing_, true);
  intake.start();
  intake.stop();
  EXPECT_EQ(queue->lastChangeSeq().value(), 30);
  store.add(2);
  EXPECT_EQ(intake.pollOnce(), 2);
}

TEST_F(IntakeTest, TheThreadTakesInNewChanges) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  Intake intake(store, *queue, log_, metrics_, routing_, true);
  intake.start();
  uint64_t seen = routing_.generation();
  store.add(1);
  intake.wake();
  routing_.waitFor(seen, std::chrono::seconds(10));
  auto item = queue->claimIntake();
  intake.stop();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->instanceId, "instance-1");
}

// Waits until routing is told of an instance, and returns the one claimed.
// No deadline: a thread that never takes it in hangs the test, and ctest's
// timeout reports it.
std::optional<IntakeItem> nextTakenIn(RoutingQueue& routing, Wakeup& told) {
  for (;;) {
    uint64_t seen = told.generation();
    if (auto item = routing.claimIntake()) return item;
    told.wait(seen);
  }
}

TEST_F(IntakeTest, StartStopStartTakesInAgain) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  Intake intake(store, *queue, log_, metrics_, routing_, true);
  EXPECT_EQ(intake.state(), RunState::Created);
  intake.start();
  EXPECT_EQ(intake.state(), RunState::Running);
  store.add(1);
  intake.wake();
  EXPECT_EQ(nextTakenIn(*queue, routing_)->instanceId, "instance-1");
  intake.stop();
  EXPECT_EQ(intake.state(), RunState::Stopped);

  store.add(1);  // while stopped
  intake.start();
  EXPECT_EQ(intake.state(), RunState::Running);
  EXPECT_EQ(nextTakenIn(*queue, routing_)->instanceId, "instance-2");
  store.add(1);
  intake.wake();  // the new thread answers wake() as the first did
  EXPECT_EQ(nextTakenIn(*queue, routing_)->instanceId, "instance-3");
  intake.stop();
  EXPECT_EQ(intake.state(), RunState::Stopped);
  EXPECT_EQ(queue->lastChangeSeq().value(), 3);
}

TEST_F(IntakeTest, StopWithoutStartIsFine) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  Intake intake(store, *queue, log_, metrics_, routing_, true);
  intake.stop();
  EXPECT_EQ(intake.state(), RunState::Stopped);
  intake.stop();
  EXPECT_EQ(intake.state(), RunState::Stopped);
}

TEST_F(IntakeTest, StopInterruptsAnHourLongWait) {
  MemoryOrthanc store;
  auto queue = openSqliteQueue(path_.string());
  queue->recordChanges({}, 0, false);
  store.add(1);
  Intake intake(store, *queue, log_, metrics_, routing_, true, std::chrono::hours(1));
  intake.start();
  ASSERT_TRUE(nextTakenIn(*queue, routing_));  // its first pass is done: it waits an hour now
  intake.stop();  // returns (a hang is the failure)
  EXPECT_EQ(intake.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
