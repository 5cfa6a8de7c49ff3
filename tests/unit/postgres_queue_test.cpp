// What the PostgreSQL queue does beyond the contract suite (which it passes
// too, queue_contract_test.cpp): several nodes on one database at once, and a
// server that goes away. Each "node" is its own queue object, with its own
// connections, on one real server started by the test (postgres_server.h).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "plugins/core/Error.h"
#include "plugins/core/queue/Queue.h"
#include "tests/unit/postgres_server.h"

namespace router {
namespace {

using testing_pg::PostgresServer;

class PostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { PostgresServer::instance().stop(); }
};
::testing::Environment* const kPostgresEnvironment = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

class PostgresQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    static int databases = 0;
    const std::string name = "node_test_" + std::to_string(++databases);
    PostgresServer::instance().createDatabase(name);
    uri_ = PostgresServer::instance().uri(name);
  }
  std::unique_ptr<Queue> node(const std::string& name = "local") { return openQueue(uri_, QueueNode{name, kLease}); }
  static constexpr std::chrono::seconds kLease{60};
  static Route route(const std::string& destination) {
    Route r;
    r.destination = destination;
    return r;
  }
  std::string uri_;
};

TEST_F(PostgresQueue, NodesStartingAtOnceOnAnEmptyDatabaseMakeOneSchema) {
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  std::mutex mutex;
  std::vector<std::string> errors;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      try {
        node();
        ++opened;
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened, 6) << (errors.empty() ? "" : errors.front());
  EXPECT_EQ(node()->recordChanges({{1, "a"}}, 1, false), 1);
}

TEST_F(PostgresQueue, TwoNodesNeverClaimTheSameJob) {
  auto a = node(), b = node();
  std::vector<Change> changes;
  for (int i = 1; i <= 400; ++i) changes.push_back({i, "i" + std::to_string(i)});
  a->recordChanges(changes, 400, false);
  // Both nodes route, both deliver, two threads each.
  std::mutex mutex;
  std::set<int64_t> routed, claimed;
  std::atomic<int> duplicates{0};
  auto work = [&](Queue& q) {
    while (auto item = q.claimIntake()) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!routed.insert(item->id).second) ++duplicates;
      }
      q.finishRouting(item->id, "u" + std::to_string(item->id), {route("d")});
    }
    while (auto job = q.claimJob("d")) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!claimed.insert(job->id).second) ++duplicates;
      }
      q.completeJob(job->id);
    }
  };
  std::vector<std::thread> threads;
  for (Queue* q : {a.get(), a.get(), b.get(), b.get()}) threads.emplace_back([&, q] { work(*q); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(routed.size(), 400u);
  EXPECT_EQ(claimed.size(), 400u);
  EXPECT_TRUE(a->listJobs(JobFilter{}).empty());
}

// A released series stays with the node that began sending it: the other
// node takes none of its jobs meanwhile (but other work), so that the series
// goes in its order over that node's association.
TEST_F(PostgresQueue, AReleasedSeriesStaysWithTheNodeSendingIt) {
  auto a = node("a"), b = node("b");
  Route series = route("d");
  series.completion.level = RouteLevel::Series;
  series.completion.quiet = std::chrono::seconds(1);
  series.completion.maxWait = std::chrono::seconds(600);
  for (int n = 1; n <= 3; ++n) {
    a->recordChanges({{n, "i" + std::to_string(n)}}, n, false);
    RoutedInstance instance("1.2.3." + std::to_string(n));
    instance.studyInstanceUid = "st";
    instance.seriesInstanceUid = "s1";
    instance.seriesNumber = 1;
    instance.instanceNumber = n;
    a->finishRouting(a->claimIntake()->id, instance, {series});
  }
  std::optional<Clock::time_point> next;
  ASSERT_EQ(a->releaseDue(Clock::now() + std::chrono::seconds(5), next).size(), 1u);

  auto first = a->claimJob("d");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->sopInstanceUid, "1.2.3.1");
  EXPECT_FALSE(b->claimJob("d"));  // the series' next one is a's
  a->recordChanges({{4, "alone"}}, 4, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.4", {route("d")});
  auto other = b->claimJob("d");  // other work: yes
  ASSERT_TRUE(other);
  EXPECT_EQ(other->sopInstanceUid, "1.2.3.4");
  auto second = a->claimJob("d");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->sopInstanceUid, "1.2.3.2");
  a->completeJob(first->id);
  a->completeJob(second->id);
  // Nothing of it in flight any more: any node may go on with it.
  auto third = b->claimJob("d");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->sopInstanceUid, "1.2.3.3");
}

TEST_F(PostgresQueue, TwoNodesReadingOneChangesLogTakeEachChangeInOnce) {
  // Two Orthanc servers on one index share one changes log: both nodes see
  // every change and record what they fetched, at once and out of step.
  auto a = node(), b = node();
  std::atomic<int> added{0};
  auto reader = [&](Queue& q) {
    for (int64_t seq = 1; seq <= 300; seq += 10) {
      std::vector<Change> changes;
      for (int64_t s = seq; s < seq + 10; ++s) changes.push_back({s, "i" + std::to_string(s)});
      added += q.recordChanges(changes, seq + 9, false);
    }
  };
  std::thread ta([&] { reader(*a); }), tb([&] { reader(*b); });
  ta.join();
  tb.join();
  EXPECT_EQ(added, 300);
  EXPECT_EQ(a->lastChangeSeq().value(), 300);
  // A node that fetched before the other moved on: nothing again, and the
  // shared cursor does not go back.
  EXPECT_EQ(b->recordChanges({{250, "i250"}, {251, "i251"}}, 251, false), 0);
  EXPECT_EQ(a->lastChangeSeq().value(), 300);
  int claimed = 0;
  while (b->claimIntake()) ++claimed;
  EXPECT_EQ(claimed, 300);
}

TEST_F(PostgresQueue, ALostConnectionFailsTheCallNamingTheQueueAndTheNextCallReconnects) {
  auto q = node();
  q->recordChanges({{1, "a"}}, 1, false);
  PostgresServer::instance().restart();
  try {
    q->claimIntake();
    ADD_FAILURE() << "a call on a connection the server closed succeeded";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("PostgreSQL queue"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
  auto item = q->claimIntake();  // nothing was lost
  ASSERT_TRUE(item);
  EXPECT_EQ(item->instanceId, "a");
}

TEST_F(PostgresQueue, ADatabaseOfANewerReleaseIsRefused) {
  node();
  PostgresServer::exec(uri_, "UPDATE meta SET value='99' WHERE key='schema_version'");
  try {
    node();
    ADD_FAILURE() << "opened a database of a newer release";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("newer release"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresQueue, TwoNodesMeetingTheSameNewPatientsGiveEachOnePseudonym) {
  auto a = node("a"), b = node("b");
  std::vector<std::string> got(16);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    Queue* q = i % 2 ? a.get() : b.get();
    threads.emplace_back([&, i, q] { got[i] = q->assignPseudonym("p", "PID-" + std::to_string(i % 4), "", "", "P"); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()),
            (std::set<std::string>{"P-000001", "P-000002", "P-000003", "P-000004"}));
  for (size_t i = 4; i < got.size(); ++i) EXPECT_EQ(got[i], got[i % 4]) << "patient " << i % 4;
}

// --- leases: several nodes, one of them dies

TEST_F(PostgresQueue, WhatANodeThatStoppedHeldIsTakenOverOnceItsLeaseExpired) {
  auto a = node("a"), b = node("b");
  a->recordChanges({{1, "one"}, {2, "two"}}, 2, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.1", {route("d")});
  const int64_t job = a->claimJob("d")->id;
  ASSERT_TRUE(a->claimIntake());  // "two", being routed
  // a dies here. Its lease runs: b takes nothing before the end.
  const auto now = Clock::now();
  EXPECT_EQ(b->heartbeat(now + std::chrono::seconds(30)).takenOver, 0);
  EXPECT_FALSE(b->claimJob("d"));
  Heartbeat h = b->heartbeat(now + kLease + std::chrono::seconds(2));
  EXPECT_EQ(h.takenOver, 2);
  EXPECT_EQ(h.quarantined, 0);
  auto again = b->claimJob("d");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, job);
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(b->claimIntake()->instanceId, "two");
}

TEST_F(PostgresQueue, ALiveNodesHeartbeatKeepsItsClaims) {
  auto a = node("a"), b = node("b");
  a->recordChanges({{1, "one"}}, 1, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.1", {route("d")});
  const int64_t job = a->claimJob("d")->id;
  const auto now = Clock::now();
  EXPECT_EQ(a->heartbeat(now + std::chrono::seconds(50)).renewed, 1);
  EXPECT_EQ(b->heartbeat(now + kLease + std::chrono::seconds(2)).takenOver, 0);
  EXPECT_EQ(a->getJob(job)->state, JobState::Sending);
  // Its own heartbeat never takes its own claims back, however late.
  EXPECT_EQ(a->heartbeat(now + std::chrono::hours(5)).takenOver, 0);
}

// The status's node list: every node with its heartbeat and what it holds;
// a dead one shows as not alive, and is forgotten once old and empty-handed.
TEST_F(PostgresQueue, NodesAreListedWithTheirHeartbeatAndWhatTheyHold) {
  auto a = node("a"), b = node("b");
  a->recordChanges({{1, "one"}, {2, "two"}}, 2, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.1", {route("d")});
  ASSERT_TRUE(a->claimJob("d"));
  ASSERT_TRUE(b->claimIntake());
  const auto now = Clock::now();
  b->heartbeat(now);
  std::vector<NodeState> nodes = a->nodes(now);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name, "a");
  EXPECT_EQ(nodes[0].jobsHeld, 1);
  EXPECT_EQ(nodes[0].intakeHeld, 0);
  EXPECT_EQ(nodes[1].name, "b");
  EXPECT_EQ(nodes[1].jobsHeld, 0);
  EXPECT_EQ(nodes[1].intakeHeld, 1);
  EXPECT_EQ(nodes[1].lease, kLease);
  EXPECT_TRUE(nodes[0].alive && nodes[1].alive);
  // b stops beating: past its lease it is listed as not alive.
  const auto later = now + kLease + std::chrono::seconds(5);
  a->heartbeat(later);  // takes b's claim back
  nodes = a->nodes(later);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_TRUE(nodes[0].alive);
  EXPECT_FALSE(nodes[1].alive);
  EXPECT_EQ(nodes[1].intakeHeld, 0);
  // History retention forgets it (a node holding something would stay).
  a->pruneHistory(later, 100);
  nodes = a->nodes(later);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].name, "a");
}

TEST_F(PostgresQueue, ANodeRestartingRequeuesItsOwnWorkOnly) {
  auto a = node("a"), b = node("b");
  a->recordChanges({{1, "one"}, {2, "two"}}, 2, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.1", {route("d")});
  b->finishRouting(b->claimIntake()->id, "1.2.3.2", {route("d")});
  const int64_t ofA = a->claimJob("d")->id, ofB = b->claimJob("d")->id;
  auto restartedB = node("b");
  EXPECT_EQ(restartedB->recover().requeued, 1);
  EXPECT_EQ(restartedB->getJob(ofA)->state, JobState::Sending);  // a is alive and sending it
  EXPECT_EQ(restartedB->getJob(ofB)->state, JobState::Pending);
}

TEST_F(PostgresQueue, AJobWhoseTwoHoldersDiedIsQuarantined) {
  auto a = node("a"), b = node("b"), c = node("c");
  a->recordChanges({{1, "poison"}}, 1, false);
  a->finishRouting(a->claimIntake()->id, "1.2.3.1", {route("d")});
  const int64_t job = a->claimJob("d")->id;
  const auto now = Clock::now();
  ASSERT_EQ(b->heartbeat(now + kLease + std::chrono::seconds(2)).takenOver, 1);  // a died
  ASSERT_TRUE(b->claimJob("d"));
  Heartbeat h = c->heartbeat(now + 2 * kLease + std::chrono::seconds(4));  // b died too
  EXPECT_EQ(h.takenOver, 1);
  EXPECT_EQ(h.quarantined, 1);
  EXPECT_EQ(c->getJob(job)->state, JobState::Dead);
  EXPECT_NE(c->getJob(job)->lastError.find("quarantined"), std::string::npos);
}

TEST(QueueDatabase, APasswordNeverShows) {
  EXPECT_EQ(describeQueueDatabase("postgresql://router:s3cret@db:5432/q"), "postgresql://router:***@db:5432/q");
  EXPECT_EQ(describeQueueDatabase("postgres://db/q?user=r&password=s3cret&sslmode=require"),
            "postgres://db/q?user=r&password=***&sslmode=require");
  EXPECT_EQ(describeQueueDatabase("/var/lib/orthanc/router-queue.sqlite"), "/var/lib/orthanc/router-queue.sqlite");
}

TEST(QueueDatabase, AServerThatIsNotThereIsAnErrorNamingIt) {
  try {
    openQueue("postgresql://router@127.0.0.1:1/none");
    ADD_FAILURE() << "connected to nothing";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace router
