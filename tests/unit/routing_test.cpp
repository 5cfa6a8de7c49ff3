// Routing workers when the queue itself fails (e.g. its disk is full): the
// instance a worker had claimed is handed back and routed once the queue
// works again, not left "routing" until the next restart. The failure is
// injected by a thin decorator over the real SQLite queue: a full disk
// cannot be produced on demand in a test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "plugins/core/Error.h"
#include "plugins/core/routing/Routing.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"

namespace router {
namespace {

using testdata::TempDir;

class FilesOnly : public InstanceStore {
 public:
  ChangeBatch changesSince(int64_t since, int) override {
    ChangeBatch none;
    none.last = since;
    return none;
  }
  int64_t lastChange() override { return 0; }
  std::string readFile(const std::string&) override {
    return testdata::makeInstance(testdata::ctSeries(1, 3, 16, 16).front());
  }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string&) override {}
};

// The real queue, except that finishRouting() fails while `full` is set.
class FullDiskQueue : public Queue {
 public:
  explicit FullDiskQueue(std::unique_ptr<Queue> real) : real_(std::move(real)) {}
  std::atomic<bool> full{false};

  void finishRouting(int64_t id, const RoutedInstance& instance, const std::vector<Route>& routes) override {
    if (full) throw RouterError("queue database: query failed: database or disk is full");
    real_->finishRouting(id, instance, routes);
  }
  Recovery recover() override { return real_->recover(); }
  Heartbeat heartbeat(Clock::time_point now) override { return real_->heartbeat(now); }
  std::vector<NodeState> nodes(Clock::time_point now) override { return real_->nodes(now); }
  std::string assignPseudonym(const std::string& p, const std::string& k, const std::string& i, const std::string& n,
                              const std::string& prefix) override {
    return real_->assignPseudonym(p, k, i, n, prefix);
  }
  void recordPseudonym(const PseudonymEntry& e) override { real_->recordPseudonym(e); }
  std::optional<PseudonymEntry> findPseudonym(const std::string& p, const std::string& ps) override {
    return real_->findPseudonym(p, ps);
  }
  int pruneHistory(Clock::time_point before, int limit) override { return real_->pruneHistory(before, limit); }
  std::optional<int64_t> lastChangeSeq() override { return real_->lastChangeSeq(); }
  int recordChanges(const std::vector<Change>& c, int64_t last, bool skip) override {
    return real_->recordChanges(c, last, skip);
  }
  std::optional<IntakeItem> claimIntake() override { return real_->claimIntake(); }
  void failRouting(int64_t id, const std::string& e) override { real_->failRouting(id, e); }
  void postponeRouting(int64_t id, const std::string& e) override { real_->postponeRouting(id, e); }
  std::vector<Batch> studiesToDecide(int limit) override { return real_->studiesToDecide(limit); }
  std::vector<BatchSeries> batchSeries(int64_t id) override { return real_->batchSeries(id); }
  bool decideStudy(int64_t id, const std::vector<Route>& r, Clock::time_point t) override {
    return real_->decideStudy(id, r, t);
  }
  bool holdStudyDecision(int64_t id, const std::string& why) override { return real_->holdStudyDecision(id, why); }
  int rerouteFailed() override { return real_->rerouteFailed(); }
  std::vector<IntakeItem> listIntake(IntakeState s, int limit) override { return real_->listIntake(s, limit); }
  std::optional<Job> claimJob(const std::string& d, bool urgentOnly) override { return real_->claimJob(d, urgentOnly); }
  std::optional<Clock::time_point> nextRetry(const std::string& d) override { return real_->nextRetry(d); }
  InstanceLeft completeJob(int64_t id) override { return real_->completeJob(id); }
  void retryJob(int64_t id, const std::string& e, Clock::time_point t) override { real_->retryJob(id, e, t); }
  void killJob(int64_t id, const std::string& e) override { real_->killJob(id, e); }
  void releaseJob(int64_t id, const std::string& e, Clock::time_point t) override { real_->releaseJob(id, e, t); }
  std::optional<Job> getJob(int64_t id) override { return real_->getJob(id); }
  std::vector<Job> listJobs(const JobFilter& f) override { return real_->listJobs(f); }
  bool retryJobNow(int64_t id) override { return real_->retryJobNow(id); }
  bool purgeJob(int64_t id) override { return real_->purgeJob(id); }
  int retryDead(const std::string& d) override { return real_->retryDead(d); }
  int purgeDead(const std::string& d) override { return real_->purgeDead(d); }
  int moveWaitingJobs(const std::string& f, const std::string& t, const std::string& n) override {
    return real_->moveWaitingJobs(f, t, n);
  }
  QueueDepth depth() override { return real_->depth(); }
  std::vector<Batch> releaseDue(Clock::time_point now, std::optional<Clock::time_point>& next) override {
    return real_->releaseDue(now, next);
  }
  bool releaseBatch(int64_t id, Clock::time_point now) override { return real_->releaseBatch(id, now); }
  bool holdBatch(int64_t id) override { return real_->holdBatch(id); }
  bool resumeBatch(int64_t id) override { return real_->resumeBatch(id); }
  bool cancelBatch(int64_t id) override { return real_->cancelBatch(id); }
  std::optional<Batch> getBatch(int64_t id) override { return real_->getBatch(id); }
  std::vector<Batch> listBatches(std::optional<BatchState> s, int limit) override {
    return real_->listBatches(s, limit);
  }
  void flush() override { real_->flush(); }

 private:
  std::unique_ptr<Queue> real_;
};

class CountingLog : public Log {
 public:
  std::atomic<int> queueErrors{0};
  void info(const std::string&) override {}
  void warning(const std::string&) override {}
  void error(const std::string& message) override {
    if (message.find("disk is full") != std::string::npos) ++queueErrors;
  }
};

TEST(RoutingTest, AnInstanceClaimedWhileTheQueueFailsIsRoutedOnceItWorks) {
  TempDir dir("router-routing-test");
  std::filesystem::create_directories(dir / "rules");
  std::ofstream(dir / "rules" / "10.lua") << "function route(i) return { { destination = \"out\" } } end\n";
  CountingLog log;
  Metrics metrics;
  FilesOnly store;
  FullDiskQueue queue(openSqliteQueue((dir / "queue.sqlite").string()));
  RuleBook rules((dir / "rules").string(), {"out"}, RuleLimits{}, log);
  PreparedCache cache(1u << 20);
  Wakeup wakeup;
  std::atomic<int> enqueued{0};
  Routing routing(store, queue, rules, cache, log, metrics, wakeup,
                  [&](const std::string&, const std::string&, const Route&) { ++enqueued; });

  queue.full = true;
  queue.recordChanges({{1, "instance-1"}}, 1, false);
  routing.start(1);
  auto waitFor = [](auto done) {
    for (int i = 0; i < 100 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return done();
  };
  // Claimed, its outcome could not be written, handed back and claimed again
  // (a second failure): not stuck "routing" until a restart.
  EXPECT_TRUE(waitFor([&] { return log.queueErrors.load() >= 2; }));
  EXPECT_EQ(enqueued.load(), 0);

  queue.full = false;  // space again
  EXPECT_TRUE(waitFor([&] { return enqueued.load() == 1; }));
  routing.stop();
  EXPECT_TRUE(queue.listIntake(IntakeState::New, 10).empty());
  EXPECT_TRUE(queue.listIntake(IntakeState::Routing, 10).empty());
  ASSERT_EQ(queue.listJobs(JobFilter{}).size(), 1u);
  EXPECT_EQ(queue.listJobs(JobFilter{})[0].route.destination, "out");
}

TEST(RoutingTest, AClaimOfAnotherStateIsNotHandedBack) {
  TempDir dir("router-routing-test");
  auto queue = openSqliteQueue((dir / "queue.sqlite").string());
  queue->recordChanges({{1, "a"}}, 1, false);
  auto item = queue->claimIntake();
  queue->finishRouting(item->id, "1.2.3", {});
  queue->postponeRouting(item->id, "late");  // already routed: nothing to hand back
  EXPECT_TRUE(queue->listIntake(IntakeState::New, 10).empty());

  queue->recordChanges({{2, "b"}}, 2, false);
  item = queue->claimIntake();
  queue->finishRouting(item->id, "1.2.4", {Route{"out", "", {}, 0, {}}});
  auto job = queue->claimJob("out");
  queue->completeJob(job->id);
  queue->releaseJob(job->id, "late", Clock::now());  // delivered meanwhile: nothing to release
  EXPECT_TRUE(queue->listJobs(JobFilter{}).empty());
}

// Counts the jobs routing enqueued and tells whoever waits for them.
struct Enqueued {
  std::atomic<int> count{0};
  Wakeup told;
  Routing::OnEnqueued callback() {
    return [this](const std::string&, const std::string&, const Route&) {
      ++count;
      told.notify();
    };
  }
  // No deadline: routing that never comes hangs the test (ctest's timeout).
  void await(int n) {
    for (;;) {
      uint64_t seen = told.generation();
      if (count >= n) return;
      told.wait(seen);
    }
  }
};

class RoutingLifecycleTest : public ::testing::Test {
 protected:
  // The rules folder, made before the RuleBook reads it.
  static std::string rulesIn(const TempDir& dir) {
    std::filesystem::create_directories(dir / "rules");
    std::ofstream(dir / "rules" / "10.lua") << "function route(i) return { { destination = \"out\" } } end\n";
    return (dir / "rules").string();
  }
  void arrive(int64_t seq) { queue_->recordChanges({{seq, "instance-" + std::to_string(seq)}}, seq, false); }

  TempDir dir_{"router-routing-test"};
  StderrLog log_;
  Metrics metrics_;
  FilesOnly store_;
  std::unique_ptr<Queue> queue_ = openSqliteQueue((dir_ / "queue.sqlite").string());
  RuleBook rules_{rulesIn(dir_), {"out"}, RuleLimits{}, log_};
  PreparedCache cache_{1u << 20};
  Wakeup wakeup_;
  Enqueued enqueued_;
};

TEST_F(RoutingLifecycleTest, StartStopStartRoutesAgain) {
  // Idle workers look at the queue once an hour: what they route comes from
  // their first look after a start, or from a notify.
  Routing routing(store_, *queue_, rules_, cache_, log_, metrics_, wakeup_, enqueued_.callback(), std::chrono::hours(1));
  EXPECT_EQ(routing.state(), RunState::Created);
  arrive(1);
  routing.start(2);
  EXPECT_EQ(routing.state(), RunState::Running);
  enqueued_.await(1);
  routing.stop();
  EXPECT_EQ(routing.state(), RunState::Stopped);

  arrive(2);  // while stopped
  routing.start(2);
  EXPECT_EQ(routing.state(), RunState::Running);
  enqueued_.await(2);
  arrive(3);
  wakeup_.notify();  // the shared Wakeup works again after the restart
  enqueued_.await(3);
  routing.stop();
  EXPECT_EQ(routing.state(), RunState::Stopped);
  EXPECT_EQ(enqueued_.count.load(), 3);
  EXPECT_EQ(queue_->listJobs(JobFilter{}).size(), 3u);
  EXPECT_TRUE(queue_->listIntake(IntakeState::New, 10).empty());
}

TEST_F(RoutingLifecycleTest, StopWithoutStartIsFine) {
  Routing routing(store_, *queue_, rules_, cache_, log_, metrics_, wakeup_, enqueued_.callback());
  routing.stop();
  EXPECT_EQ(routing.state(), RunState::Stopped);
}

TEST_F(RoutingLifecycleTest, StopInterruptsIdleWorkersWaitingAnHour) {
  Routing routing(store_, *queue_, rules_, cache_, log_, metrics_, wakeup_, enqueued_.callback(), std::chrono::hours(1));
  arrive(1);
  routing.start(2);
  enqueued_.await(1);  // then both wait an hour for more
  routing.stop();      // returns (a hang is the failure)
  EXPECT_EQ(routing.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
