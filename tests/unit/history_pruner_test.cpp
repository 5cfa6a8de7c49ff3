// The history pruner: routed intake items past the retention leave the
// queue at start and every interval, again after a stop and a start; stop
// interrupts its wait between passes; stop without start is fine. Waits have
// no deadline: a prune that never comes or a stop that never returns hangs
// the test, and ctest's timeout reports it.
#include "plugins/core/queue/HistoryPruner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/generator/TestSupport.h"

namespace router {
namespace {

using namespace std::chrono_literals;

class HistoryPrunerTest : public ::testing::Test {
 protected:
  // One routed instance (no routes), as routing leaves it.
  void routed() {
    ++seq_;
    queue_->recordChanges({{seq_, "instance-" + std::to_string(seq_)}}, seq_, false);
    auto item = queue_->claimIntake();
    ASSERT_TRUE(item);
    queue_->finishRouting(item->id, "1.2.3." + std::to_string(seq_), {});
  }
  size_t kept() { return queue_->listIntake(IntakeState::Routed, 100).size(); }
  void untilPruned() {
    while (kept() != 0) std::this_thread::sleep_for(10ms);
  }

  testdata::TempDir dir_{"router-history-test"};
  std::unique_ptr<Queue> queue_ = openSqliteQueue((dir_ / "queue.sqlite").string());
  StderrLog log_;
  int64_t seq_ = 0;
  // A retention of minus an hour: whatever was routed is past it.
  static constexpr std::chrono::seconds kPast{-3600};
};

TEST_F(HistoryPrunerTest, StartStopStartPrunesAgain) {
  // One pass an hour: the passes seen here are the ones each start makes.
  HistoryPruner pruner(*queue_, kPast, log_, 1h);
  EXPECT_EQ(pruner.state(), RunState::Created);
  routed();
  routed();
  ASSERT_EQ(kept(), 2u);
  pruner.start();
  EXPECT_EQ(pruner.state(), RunState::Running);
  untilPruned();
  pruner.stop();  // interrupts the hour's wait
  EXPECT_EQ(pruner.state(), RunState::Stopped);

  routed();
  ASSERT_EQ(kept(), 1u);
  pruner.start();
  EXPECT_EQ(pruner.state(), RunState::Running);
  untilPruned();
  pruner.stop();
  EXPECT_EQ(pruner.state(), RunState::Stopped);
}

TEST_F(HistoryPrunerTest, WhatIsWithinTheRetentionStays) {
  routed();
  HistoryPruner pruner(*queue_, 3600s, log_);
  EXPECT_EQ(pruner.pruneOnce(), 0);
  EXPECT_EQ(kept(), 1u);
}

TEST_F(HistoryPrunerTest, StopWithoutStartIsFine) {
  HistoryPruner pruner(*queue_, kPast, log_);
  pruner.stop();
  EXPECT_EQ(pruner.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
