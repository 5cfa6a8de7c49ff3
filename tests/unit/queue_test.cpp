// The SQLite queue: exactly-once intake, job life cycle, priorities, crash
// recovery and persistence across reopening.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <unistd.h>

#include "plugins/core/Error.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/queue/Sqlite.h"

namespace router {
namespace {

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("router-queue-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "queue.sqlite").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Route route(const std::string& destination, int priority = 0) {
    Route r;
    r.destination = destination;
    r.priority = priority;
    return r;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(QueueTest, IntakeTakesEachChangeOnceAndRecordsTheSequence) {
  auto queue = openSqliteQueue(path_);
  EXPECT_FALSE(queue->lastChangeSeq().has_value());
  EXPECT_EQ(queue->recordChanges({{1, "a"}, {2, "b"}}, 2, false), 2);
  EXPECT_EQ(queue->recordChanges({{2, "b"}, {3, "c"}}, 3, false), 1);  // seq 2 again: ignored
  EXPECT_EQ(queue->lastChangeSeq().value(), 3);
  // The same instance stored again (a new change) is taken again by default...
  EXPECT_EQ(queue->recordChanges({{4, "a"}}, 4, false), 1);
  // ...and not when re-sent instances are not routed again.
  EXPECT_EQ(queue->recordChanges({{5, "b"}}, 5, true), 0);
  EXPECT_EQ(queue->lastChangeSeq().value(), 5);
}

TEST_F(QueueTest, RoutingCreatesOneJobPerRouteAtomically) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "inst"}}, 1, false);
  auto item = queue->claimIntake();
  ASSERT_TRUE(item);
  EXPECT_EQ(item->instanceId, "inst");
  EXPECT_FALSE(queue->claimIntake());  // claimed once
  Route edited = route("pacs");
  edited.transferSyntax = "1.2.840.10008.1.2.4.80";
  edited.modify = {{"InstitutionName", std::string("Site B")}, {"PatientComments", std::nullopt}};
  queue->finishRouting(item->id, "1.2.3", {edited, route("folder")});

  auto job = queue->claimJob("pacs");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->sopInstanceUid, "1.2.3");
  EXPECT_EQ(job->route.transferSyntax, "1.2.840.10008.1.2.4.80");
  EXPECT_EQ(job->route.modify, edited.modify);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_FALSE(queue->claimJob("pacs"));
  InstanceLeft left = queue->completeJob(job->id);  // the folder job is still waiting
  EXPECT_EQ(left.jobs, 1);
  EXPECT_EQ(left.waitingFor, std::vector<std::string>{"folder"});
  auto other = queue->claimJob("folder");
  ASSERT_TRUE(other);
  EXPECT_EQ(queue->completeJob(other->id).jobs, 0);  // last one: delivered everywhere
}

TEST_F(QueueTest, ADeadLetterKeepsItsInstanceButWaitsForNothing) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "x"}}, 1, false);
  auto item = queue->claimIntake();
  queue->finishRouting(item->id, "1.2.3", {route("pacs"), route("ai"), route("folder")});
  queue->killJob(queue->claimJob("ai")->id, "SOP class not supported");
  InstanceLeft left = queue->completeJob(queue->claimJob("pacs")->id);
  EXPECT_EQ(left.jobs, 2);                                           // not delivered everywhere
  EXPECT_EQ(left.waitingFor, std::vector<std::string>{"folder"});  // the dead letter waits for nothing
  left = queue->completeJob(queue->claimJob("folder")->id);
  EXPECT_EQ(left.jobs, 1);
  EXPECT_TRUE(left.waitingFor.empty());
}

TEST_F(QueueTest, PriorityThenArrivalOrder) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "x"}, {2, "y"}, {3, "z"}}, 3, false);
  int priority[] = {0, 5, 0};
  for (int i = 0; i < 3; ++i) {
    auto item = queue->claimIntake();
    queue->finishRouting(item->id, "uid" + std::to_string(i), {route("d", priority[i])});
  }
  EXPECT_EQ(queue->claimJob("d")->sopInstanceUid, "uid1");
  EXPECT_EQ(queue->claimJob("d")->sopInstanceUid, "uid0");
  EXPECT_EQ(queue->claimJob("d")->sopInstanceUid, "uid2");
}

TEST_F(QueueTest, RetryWaitsForItsTimeAndDeadLettersStayUntilRetried) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "x"}}, 1, false);
  queue->finishRouting(queue->claimIntake()->id, "u", {route("d")});
  auto job = queue->claimJob("d");
  queue->retryJob(job->id, "connection refused", Clock::now() + std::chrono::hours(1));
  EXPECT_FALSE(queue->claimJob("d"));
  ASSERT_TRUE(queue->nextRetry("d"));
  EXPECT_GT(*queue->nextRetry("d"), Clock::now() + std::chrono::minutes(59));
  EXPECT_EQ(queue->getJob(job->id)->lastError, "connection refused");

  queue->retryJob(job->id, "again", Clock::now() - std::chrono::seconds(1));
  job = queue->claimJob("d");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->attempts, 2);
  queue->killJob(job->id, "SOP class not supported (0x0122)");
  EXPECT_FALSE(queue->claimJob("d"));
  QueueDepth depth = queue->depth();
  EXPECT_EQ(depth.jobs["d"][JobState::Dead], 1);

  EXPECT_EQ(queue->retryDead("d"), 1);
  job = queue->claimJob("d");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->attempts, 1);  // a manual retry starts over
}

TEST_F(QueueTest, FailoverMovesWaitingJobsOnly) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "a"}, {2, "b"}, {3, "c"}}, 3, false);
  for (const char* sop : {"1.1", "1.2", "1.3"}) {
    auto item = queue->claimIntake();
    queue->finishRouting(item->id, sop, {route("pacs")});
  }
  auto failed = queue->claimJob("pacs");  // a: Failed, waiting for its retry
  queue->retryJob(failed->id, "connection refused", Clock::now() + std::chrono::hours(1));
  auto dead = queue->claimJob("pacs");    // b: Dead, stays
  queue->killJob(dead->id, "SOP class not supported");
  // c: Pending

  EXPECT_EQ(queue->moveWaitingJobs("pacs", "backup", "failed over from pacs"), 2);
  EXPECT_FALSE(queue->claimJob("pacs"));
  EXPECT_EQ(queue->depth().jobs["pacs"][JobState::Dead], 1);
  auto first = queue->claimJob("backup");
  auto second = queue->claimJob("backup");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->route.destination, "backup");
  EXPECT_EQ(first->attempts, 1);  // starts over on the new destination
  EXPECT_EQ(first->lastError, "failed over from pacs: connection refused");
  EXPECT_EQ(second->sopInstanceUid, "1.3");
}

TEST_F(QueueTest, CachedStatementsMayNestAndStartClean) {
  sqlite::Database db(path_);
  db.exec("CREATE TABLE t(v INTEGER); INSERT INTO t VALUES(1), (2), (3);");
  const std::string sql = "SELECT v FROM t WHERE v >= ?1 ORDER BY v";
  {
    sqlite::Statement outer(db, sql);
    ASSERT_TRUE(outer.bind(1, 2).step());
    sqlite::Statement inner(db, sql);  // the cached one is busy: a second one
    ASSERT_TRUE(inner.bind(1, 1).step());
    EXPECT_EQ(inner.int64(0), 1);
    EXPECT_EQ(outer.int64(0), 2);
  }
  sqlite::Statement again(db, sql);  // reused: reset, bindings cleared (NULL matches nothing)
  EXPECT_FALSE(again.step());
  sqlite::Statement bound(db, "SELECT COUNT(*) FROM t");
  ASSERT_TRUE(bound.step());
  EXPECT_EQ(bound.int64(0), 3);

  auto queue = openSqliteQueue(path_ + ".queue");
  queue->flush();  // a checkpoint on a fresh queue: nothing to do, no error
}

TEST_F(QueueTest, RuleFailuresWaitForReroute) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "x"}}, 1, false);
  auto item = queue->claimIntake();
  queue->failRouting(item->id, "10-ct.lua:3: boom");
  EXPECT_FALSE(queue->claimIntake());
  auto failed = queue->listIntake(IntakeState::RuleFailed, 10);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].error, "10-ct.lua:3: boom");
  EXPECT_EQ(queue->rerouteFailed(), 1);
  EXPECT_TRUE(queue->claimIntake());
}

TEST_F(QueueTest, WorkInFlightSurvivesACrashAndComesBack) {
  int64_t jobId = 0;
  {
    auto queue = openSqliteQueue(path_);
    queue->recordChanges({{1, "x"}, {2, "y"}}, 2, false);
    queue->finishRouting(queue->claimIntake()->id, "u", {route("d")});
    jobId = queue->claimJob("d")->id;  // "sending" when the process dies
    queue->claimIntake();              // "routing" when the process dies
  }
  auto queue = openSqliteQueue(path_);
  EXPECT_EQ(queue->lastChangeSeq().value(), 2);
  EXPECT_EQ(queue->recover().requeued, 2);
  auto job = queue->claimJob("d");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, jobId);
  EXPECT_EQ(queue->claimIntake()->instanceId, "y");
}

TEST_F(QueueTest, WorkInFlightAtTwoStopsInARowIsQuarantinedNotRetried) {
  int64_t poisonJob = 0, innocentJob = 0;
  {
    auto queue = openSqliteQueue(path_);
    queue->recordChanges({{1, "poison"}, {2, "innocent"}, {3, "poison-intake"}}, 3, false);
    queue->finishRouting(queue->claimIntake()->id, "u1", {route("d")});
    queue->finishRouting(queue->claimIntake()->id, "u2", {route("e")});
    poisonJob = queue->claimJob("d")->id;
    innocentJob = queue->claimJob("e")->id;
    queue->claimIntake();  // "poison-intake" is being routed when the process dies
  }
  {
    auto queue = openSqliteQueue(path_);
    Recovery first = queue->recover();
    EXPECT_EQ(first.requeued, 3);
    EXPECT_EQ(first.quarantinedJobs + first.quarantinedIntake, 0);
    // Started again: the innocent job ends normally (a retry), the poison
    // job and intake item are in flight again when the process dies again.
    ASSERT_EQ(queue->claimJob("d")->id, poisonJob);
    ASSERT_EQ(queue->claimJob("e")->id, innocentJob);
    queue->retryJob(innocentJob, "peer busy", Clock::now());
    ASSERT_EQ(queue->claimIntake()->instanceId, "poison-intake");
  }
  {
    auto queue = openSqliteQueue(path_);
    Recovery second = queue->recover();
    EXPECT_EQ(second.quarantinedJobs, 1);
    EXPECT_EQ(second.quarantinedIntake, 1);
    EXPECT_EQ(second.requeued, 0);
    auto poison = queue->getJob(poisonJob);
    EXPECT_EQ(poison->state, JobState::Dead);
    EXPECT_NE(poison->lastError.find("stopped 2 times in a row while delivering"), std::string::npos)
        << poison->lastError;
    EXPECT_FALSE(queue->claimJob("d")) << "a quarantined job was claimed again";
    auto failed = queue->listIntake(IntakeState::RuleFailed, 10);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].instanceId, "poison-intake");
    EXPECT_NE(failed[0].error.find("while routing this instance"), std::string::npos) << failed[0].error;
    // The innocent job ended normally in between: it waits for its retry.
    EXPECT_EQ(queue->getJob(innocentJob)->state, JobState::Failed);
    // An operator's retry and re-route start the count afresh.
    EXPECT_TRUE(queue->retryJobNow(poisonJob));
    EXPECT_EQ(queue->rerouteFailed(), 1);
    ASSERT_EQ(queue->claimJob("d")->id, poisonJob);
  }
  auto queue = openSqliteQueue(path_);
  Recovery third = queue->recover();
  EXPECT_EQ(third.quarantinedJobs, 0) << "the count did not start afresh after the operator's retry";
  EXPECT_EQ(third.requeued, 1);
}

TEST_F(QueueTest, AFileOfTheFirstReleaseOpensAndUpgrades) {
  {
    // The first release's schema, exactly as it wrote it (no user_version).
    sqlite::Database db(path_);
    db.exec(R"SQL(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE intake (id INTEGER PRIMARY KEY AUTOINCREMENT, change_seq INTEGER NOT NULL UNIQUE,
  instance_id TEXT NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '', received_at INTEGER NOT NULL);
CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL, destination TEXT NOT NULL, transfer_syntax TEXT NOT NULL,
  modify TEXT NOT NULL, priority INTEGER NOT NULL, state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '');
INSERT INTO meta VALUES('last_change_seq', '7');
INSERT INTO intake(change_seq, instance_id, state, received_at) VALUES(7, 'old', 0, 1);
INSERT INTO jobs(instance_id, sop_instance_uid, destination, transfer_syntax, modify, priority, state,
  created_at, next_attempt_at) VALUES('old', '1.2.3', 'd', '', '[]', 0, 1, 1, 1);
)SQL");
  }
  auto queue = openSqliteQueue(path_);
  EXPECT_EQ(queue->lastChangeSeq().value(), 7);
  EXPECT_EQ(queue->recover().requeued, 1);  // the old job was "sending"
  auto job = queue->claimJob("d");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->sopInstanceUid, "1.2.3");
  EXPECT_EQ(queue->claimIntake()->instanceId, "old");
  {
    sqlite::Database db(path_);
    sqlite::Statement version(db, "PRAGMA user_version");
    ASSERT_TRUE(version.step());
    EXPECT_EQ(version.int64(0), 3);
    // The old job is an instance-level job, outside any batch.
    sqlite::Statement batch(db, "SELECT batch_id, sort_key FROM jobs");
    ASSERT_TRUE(batch.step());
    EXPECT_EQ(batch.int64(0), 0);
    EXPECT_EQ(batch.int64(1), 0);
  }
}

// Version 2 (series batches) -> 3: jobs get their route's de-identification
// (none for the jobs already queued), and the mapping table is created.
TEST_F(QueueTest, AVersion2FileUpgradesToDeidentification) {
  {
    auto queue = openSqliteQueue(path_);
    queue->recordChanges({{1, "a"}}, 1, false);
    queue->finishRouting(queue->claimIntake()->id, "1.2.3", {route("pacs")});
  }
  {
    // Back to what version 2 wrote: no deidentify column, no mapping table.
    sqlite::Database db(path_);
    db.exec("DROP TABLE pseudonyms");
    db.exec("ALTER TABLE jobs DROP COLUMN deidentify");
    db.exec("PRAGMA user_version=2");
  }
  auto queue = openSqliteQueue(path_);
  auto old = queue->claimJob("pacs");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->sopInstanceUid, "1.2.3");
  EXPECT_FALSE(old->route.deidentify.active());
  Route deid = route("research");
  deid.deidentify.project = "trial-1";
  deid.deidentify.options = {"CleanDescriptors"};
  queue->recordChanges({{2, "b"}}, 2, false);
  queue->finishRouting(queue->claimIntake()->id, "1.2.4", {deid});
  auto job = queue->claimJob("research");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->route.deidentify, deid.deidentify);
  EXPECT_EQ(queue->assignPseudonym("trial-1", "PID", "PID", "Doe^J", "TRIAL1"), "TRIAL1-000001");
  sqlite::Database db(path_);
  sqlite::Statement version(db, "PRAGMA user_version");
  ASSERT_TRUE(version.step());
  EXPECT_EQ(version.int64(0), 3);
}

TEST_F(QueueTest, AFileOfANewerReleaseIsRefusedWithTheReason) {
  {
    auto queue = openSqliteQueue(path_);
  }
  {
    sqlite::Database db(path_);
    db.exec("PRAGMA user_version=99");
  }
  try {
    openSqliteQueue(path_);
    FAIL() << "a newer queue file was opened";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("newer release"), std::string::npos) << e.what();
  }
}

TEST_F(QueueTest, ConcurrentWorkersNeverClaimTheSameJob) {
  auto queue = openSqliteQueue(path_);
  std::vector<Change> changes;
  for (int i = 1; i <= 200; ++i) changes.push_back({i, "i" + std::to_string(i)});
  queue->recordChanges(changes, 200, false);
  while (auto item = queue->claimIntake()) queue->finishRouting(item->id, item->instanceId, {route("d")});

  std::mutex mutex;
  std::set<int64_t> seen;
  int duplicates = 0;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto job = queue->claimJob("d")) {
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (!seen.insert(job->id).second) ++duplicates;
        }
        queue->completeJob(job->id);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_EQ(duplicates, 0);
}

TEST_F(QueueTest, ListingFiltersAndPurging) {
  auto queue = openSqliteQueue(path_);
  queue->recordChanges({{1, "x"}}, 1, false);
  queue->finishRouting(queue->claimIntake()->id, "u", {route("a"), route("b")});
  JobFilter filter;
  filter.destination = "b";
  auto jobs = queue->listJobs(filter);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, JobState::Pending);
  filter.destination.clear();
  filter.state = JobState::Dead;
  EXPECT_TRUE(queue->listJobs(filter).empty());
  EXPECT_TRUE(queue->purgeJob(jobs[0].id));
  EXPECT_FALSE(queue->getJob(jobs[0].id));
}

}  // namespace
}  // namespace router
