// The rules watcher: a changed rule file is reloaded by itself, again after a
// stop and a start (a new watch, a new thread); stop without start is fine;
// stop ends the thread between two ticks. Waits have no deadline: a reload
// that never comes hangs the test, and ctest's timeout reports it.
#include "plugins/core/routing/RulesWatcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/generator/TestSupport.h"

namespace router {
namespace {

using testdata::TempDir;

class RulesWatcherTest : public ::testing::Test {
 protected:
  // The rules folder, made before the RuleBook reads it.
  static std::string rulesIn(const TempDir& dir) {
    std::filesystem::create_directories(dir / "rules");
    write(dir, "out");
    return (dir / "rules").string();
  }
  static void write(const TempDir& dir, const std::string& destination) {
    std::ofstream(dir / "rules" / "10.lua")
        << "function route(i) return { { destination = \"" << destination << "\" } } end\n";
  }
  void write(const std::string& destination) { write(dir_, destination); }
  void awaitReloadAfter(uint64_t generation) {
    while (rules_.generation() == generation) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  TempDir dir_{"router-watcher-test"};
  StderrLog log_;
  RuleBook rules_{rulesIn(dir_), {"out", "other"}, RuleLimits{}, log_};
};

TEST_F(RulesWatcherTest, AChangedFileIsReloadedAgainAfterAStopAndAStart) {
  RulesWatcher watcher((dir_ / "rules").string(), rules_, log_);
  EXPECT_EQ(watcher.state(), RunState::Created);
  watcher.start();
  EXPECT_EQ(watcher.state(), RunState::Running);
  uint64_t before = rules_.generation();
  write("other");
  awaitReloadAfter(before);
  watcher.stop();
  EXPECT_EQ(watcher.state(), RunState::Stopped);

  watcher.start();
  EXPECT_EQ(watcher.state(), RunState::Running);
  before = rules_.generation();
  write("out");
  awaitReloadAfter(before);
  watcher.stop();
  EXPECT_EQ(watcher.state(), RunState::Stopped);
}

TEST_F(RulesWatcherTest, StopWithoutStartIsFine) {
  RulesWatcher watcher((dir_ / "rules").string(), rules_, log_);
  watcher.stop();
  EXPECT_EQ(watcher.state(), RunState::Stopped);
}

TEST_F(RulesWatcherTest, AFolderThatCannotBeWatchedLeavesItRunningWithoutAThread) {
  RulesWatcher watcher((dir_ / "no-such-folder").string(), rules_, log_);
  watcher.start();  // logged: reload through the REST API instead
  EXPECT_EQ(watcher.state(), RunState::Running);
  watcher.stop();
  EXPECT_EQ(watcher.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
