// The lane runner: each destination's workers claim its jobs, send them
// through their own (here fake) Destination and act on the outcome; a
// failing destination does not hold up the others, a paused one takes no
// job, a silent one is held down by its circuit breaker and fails over, a
// refused syntax is sent again in one the peer accepted, and batching
// destinations get their jobs in batches. With the real SQLite queue and a
// circuit-breaker clock the test moves.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/unit/delivery_support.h"

namespace router {
namespace {

using namespace std::chrono_literals;

TEST_F(DeliveryTest, EachJobEndsPerItsOutcomeAndAFailingDestinationHoldsUpNoOther) {
  destination("pacs");
  destination("ai");
  peers_["pacs"];
  const std::string retried = route("a", std::vector<std::string>{"pacs", "ai"});
  const std::string refused = route("b", std::vector<std::string>{"pacs", "ai"});
  const std::string taken = route("c", std::vector<std::string>{"pacs", "ai"});
  route("gone", std::vector<Route>{Route{"pacs", "", {}, 0, {}}}, /*stored=*/false);
  peers_["ai"].answer = [&](const Outgoing& instance) {
    if (instance.sopInstanceUid == retried) return SendResult{SendOutcome::Retry, "out of resources (0xA700)", 0xA700};
    if (instance.sopInstanceUid == refused) {
      return SendResult{SendOutcome::Permanent, "SOP class not supported (0x0122)", 0x0122};
    }
    return SendResult{};
  };

  auto delivery = makeDelivery();
  delivery->start();
  ASSERT_TRUE(eventually([&] { return waiting("pacs") == 0 && jobs("ai", JobState::Pending) == 0 &&
                                      jobs("ai", JobState::Sending) == 0 && jobs("pacs", JobState::Dead) == 1; }));
  delivery->stop();

  EXPECT_EQ(peers_["pacs"].sentCount(), 3u);  // all delivered, the failing "ai" notwithstanding
  EXPECT_EQ(peers_["ai"].sentCount(), 3u);
  auto gone = onlyJob("pacs", JobState::Dead);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->lastError, "the instance was deleted from Orthanc before it could be sent");

  auto later = onlyJob("ai", JobState::Failed);  // retried, after its backoff
  ASSERT_TRUE(later);
  EXPECT_EQ(later->sopInstanceUid, retried);
  EXPECT_EQ(later->attempts, 1);
  EXPECT_EQ(later->lastError, "out of resources (0xA700)");
  EXPECT_GT(later->nextAttemptAt, Clock::now() + 40s);
  auto dead = onlyJob("ai", JobState::Dead);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->sopInstanceUid, refused);
  EXPECT_EQ(dead->lastError, "SOP class not supported (0x0122)");

  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="delivered"} 3)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="ai",outcome="delivered"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_retries_total{destination="ai",reason="status_a7xx"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_dead_letters_total{destination="ai",reason="status_01xx"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_dead_letters_total{destination="pacs",reason="instance_deleted"} 1)"));
  EXPECT_FALSE(delivery->isDown("ai"));  // it answered every time
}

TEST_F(DeliveryTest, APausedDestinationTakesNoJobUntilItIsResumed) {
  destination("pacs");
  destination("folder");
  peers_["pacs"];
  peers_["folder"];
  auto delivery = makeDelivery();
  EXPECT_FALSE(delivery->pause("nowhere", true));
  EXPECT_TRUE(delivery->pause("pacs", true));
  EXPECT_TRUE(delivery->isPaused("pacs"));
  delivery->start();
  route("a", std::vector<std::string>{"pacs", "folder"});
  delivery->notifyAll();

  ASSERT_TRUE(eventually([&] { return peers_["folder"].sentCount() == 1; }));
  std::this_thread::sleep_for(1500ms);  // the paused lane looks again every second
  EXPECT_EQ(peers_["pacs"].sentCount(), 0u);
  EXPECT_EQ(jobs("pacs", JobState::Pending), 1);
  EXPECT_EQ(queue_->listJobs(JobFilter{"pacs", std::nullopt, 0, 10}).at(0).attempts, 0);  // none used

  EXPECT_TRUE(delivery->pause("pacs", false));
  EXPECT_FALSE(delivery->isPaused("pacs"));
  ASSERT_TRUE(eventually([&] { return peers_["pacs"].sentCount() == 1 && waiting("pacs") == 0; }));
  EXPECT_EQ(log_.count("destination pacs paused"), 1);
  EXPECT_EQ(log_.count("destination pacs resumed"), 1);
}

TEST_F(DeliveryTest, OutsideItsWindowADestinationTakesOnlyUrgentJobsAndUsesNoAttempts) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  DeliveryWindow night;
  night.fromMinute = 20 * 60;
  night.toMinute = 6 * 60;
  night.text = "20:00-06:00";
  destination("archive").windows = {night};
  peers_["archive"];
  wallMs_ = 1795867200000;  // Saturday 2026-11-28 12:00 UTC: closed
  auto delivery = makeDelivery();
  delivery->start();
  const std::string routine = route("a", std::vector<std::string>{"archive"});
  Route urgent{"archive", "", {}, 0, {}};
  urgent.urgent = true;
  const std::string stat = route("b", std::vector<Route>{urgent});
  delivery->notifyAll();
  ASSERT_TRUE(eventually([&] { return peers_["archive"].sentCount() == 1; }));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(peers_["archive"].sentCount(), 1u);
  EXPECT_EQ(peers_["archive"].sent.at(0).first, stat);
  EXPECT_EQ(queue_->listJobs(JobFilter{"archive", std::nullopt, 0, 10}).at(0).attempts, 0);  // none used

  wallMs_ = 1795867200000 + 9 * 3600 * 1000;  // 21:00: open
  delivery->notifyAll();
  ASSERT_TRUE(eventually([&] { return peers_["archive"].sentCount() == 2 && waiting("archive") == 0; }));
  EXPECT_EQ(peers_["archive"].sent.at(1).first, routine);
  delivery->stop();
}

TEST(DeliveryWindowTest, HoursDaysAndPastMidnight) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  using std::chrono::hours;
  using std::chrono::minutes;
  const Clock::time_point saturdayNoon{std::chrono::seconds(1795867200)};
  DeliveryWindow weekend;
  weekend.weekdays = {6, 0};
  weekend.fromMinute = 0;
  weekend.toMinute = 24 * 60;
  DeliveryWindow night;
  night.weekdays = {5};  // Friday night, into Saturday morning
  night.fromMinute = 22 * 60;
  night.toMinute = 6 * 60;
  EXPECT_TRUE(windowOpen({}, saturdayNoon));
  EXPECT_TRUE(windowOpen({weekend}, saturdayNoon));
  EXPECT_FALSE(windowOpen({weekend}, saturdayNoon + hours(36)));  // Monday 00:00
  EXPECT_TRUE(windowOpen({night}, saturdayNoon - hours(7)));      // Saturday 05:00
  EXPECT_FALSE(windowOpen({night}, saturdayNoon - hours(6)));     // Saturday 06:00
  EXPECT_TRUE(windowOpen({night}, saturdayNoon - hours(14)));     // Friday 22:00
  EXPECT_FALSE(windowOpen({night}, saturdayNoon + hours(10)));    // Saturday 22:00: not Friday
  EXPECT_FALSE(nextOpening({weekend}, saturdayNoon).has_value());  // open now
  EXPECT_EQ(nextOpening({night}, saturdayNoon), saturdayNoon + hours(24 * 6 + 10));  // next Friday 22:00
  EXPECT_EQ(nextOpening({night}, saturdayNoon + minutes(30) + std::chrono::seconds(10)),
            saturdayNoon + hours(24 * 6 + 10));
}

TEST_F(DeliveryTest, ASilentDestinationIsHeldDownFailsOverOnceAndComesBack) {
  DestinationConfig& pacs = destination("pacs");
  pacs.circuitBreaker.failures = 1;
  pacs.circuitBreaker.probeInterval = 10s;
  pacs.failover = "backup";
  pacs.failoverAfter = 60s;
  destination("backup");
  peers_["backup"];
  peers_["pacs"].answer = [](const Outgoing&) { return SendResult{SendOutcome::Retry, "connection refused", 0}; };
  for (const char* id : {"a", "b", "c"}) route(id, std::vector<std::string>{"pacs"});

  auto delivery = makeDelivery();
  delivery->start();
  ASSERT_TRUE(eventually([&] { return delivery->isDown("pacs"); }));
  EXPECT_EQ(peers_["pacs"].sentCount(), 1u);  // the first send opened the breaker; the others wait
  EXPECT_TRUE(scraped(R"(orthanc_router_destination_up{destination="pacs"} 0)"));
  EXPECT_EQ(waiting("pacs"), 3);

  // A probe every ProbeInterval; no failover before FailoverAfter.
  clock_.seconds = 30;
  delivery->notify("pacs");
  ASSERT_TRUE(eventually([&] { return peers_["pacs"].probes == 1; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(waiting("pacs"), 3);
  EXPECT_EQ(peers_["backup"].sentCount(), 0u);

  clock_.seconds = 61;
  delivery->notify("pacs");
  ASSERT_TRUE(eventually([&] { return peers_["backup"].sentCount() == 3; }));
  EXPECT_EQ(peers_["pacs"].probes.load(), 2);
  EXPECT_EQ(waiting("pacs"), 0);
  EXPECT_TRUE(scraped(R"(orthanc_router_failover_jobs_total{destination="pacs",failover="backup"} 3)"));

  // Still down: later probes find nothing more to move.
  clock_.seconds = 71;
  delivery->notify("pacs");
  ASSERT_TRUE(eventually([&] { return peers_["pacs"].probes == 3; }));
  EXPECT_EQ(log_.count("waiting jobs moved to its failover backup"), 1);
  EXPECT_TRUE(scraped(R"(orthanc_router_failover_jobs_total{destination="pacs",failover="backup"} 3)"));

  // It answers again: the breaker closes and new jobs go to it.
  peers_["pacs"].answersProbes = true;
  {
    std::lock_guard<std::mutex> lock(peers_["pacs"].mutex);
    peers_["pacs"].answer = [](const Outgoing&) { return SendResult{}; };
  }
  route("d", std::vector<std::string>{"pacs"});
  clock_.seconds = 81;
  delivery->notify("pacs");
  ASSERT_TRUE(eventually([&] { return waiting("pacs") == 0 && !delivery->isDown("pacs"); }));
  EXPECT_EQ(peers_["pacs"].sentCount(), 2u);
  EXPECT_TRUE(scraped(R"(orthanc_router_destination_up{destination="pacs"} 1)"));
  EXPECT_EQ(log_.count("destination pacs answers again"), 1);
}

TEST_F(DeliveryTest, ARefusedSyntaxIsSentAgainInOneThePeerAccepted) {
  destination("pacs");
  Peer& peer = peers_["pacs"];
  peer.accepted = {ts::kImplicitVRLittleEndian, ts::kExplicitVRLittleEndian};
  peer.answer = [](const Outgoing& instance) {
    if (instance.transferSyntax == ts::kJPEGLSLossless) {
      return SendResult{SendOutcome::Permanent, "no presentation context for JPEGLSLossless", 0};
    }
    return SendResult{};
  };
  const std::string sop = route("a", std::vector<Route>{Route{"pacs", ts::kJPEGLSLossless, {}, 0, {}}});

  auto delivery = makeDelivery();
  delivery->start();
  ASSERT_TRUE(eventually([&] { return waiting("pacs") == 0; }));
  delivery->stop();
  std::vector<std::pair<std::string, std::string>> expected{{sop, ts::kJPEGLSLossless},
                                                            {sop, ts::kExplicitVRLittleEndian}};
  EXPECT_EQ(peer.sent, expected);
  EXPECT_EQ(jobs("pacs", JobState::Dead), 0);
  EXPECT_EQ(log_.count("delivery to pacs: no presentation context for JPEGLSLossless; sending as "
                       "ExplicitVRLittleEndian instead of JPEGLSLossless"),
            1);
  EXPECT_TRUE(scraped(
      R"(orthanc_router_sent_bytes_total{destination="pacs",transfer_syntax="ExplicitVRLittleEndian"} )" +
      std::to_string(store_.files["a"].size())));
}

TEST_F(DeliveryTest, ABatchingDestinationGetsItsDueJobsInBatches) {
  destination("cloud");
  peers_["cloud"].maxBatch = 3;
  for (const char* id : {"a", "b", "c", "d", "e"}) route(id, std::vector<std::string>{"cloud"});
  auto delivery = makeDelivery();
  delivery->start();
  ASSERT_TRUE(eventually([&] { return waiting("cloud") == 0; }));
  delivery->stop();
  EXPECT_EQ(peers_["cloud"].batches, (std::vector<size_t>{3, 2}));
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="cloud",outcome="delivered"} 5)"));
}

// No deadline: what never happens hangs the test, and ctest's timeout says so.
void until(const std::function<bool()>& done) {
  while (!done()) std::this_thread::sleep_for(10ms);
}

TEST_F(DeliveryTest, StartStopStartDeliversAgain) {
  destination("pacs");
  peers_["pacs"];
  route("a", std::vector<std::string>{"pacs"});
  // Idle lanes look at the queue once an hour: deliveries come from their
  // first look after a start, or from a notify.
  auto delivery = makeDelivery(1h);
  EXPECT_EQ(delivery->state(), RunState::Created);
  delivery->start();
  EXPECT_EQ(delivery->state(), RunState::Running);
  EXPECT_EQ(delivery->preparationState(), RunState::Running);
  until([&] { return peers_["pacs"].sentCount() == 1 && waiting("pacs") == 0; });
  delivery->stop();
  EXPECT_EQ(delivery->state(), RunState::Stopped);
  EXPECT_EQ(delivery->preparationState(), RunState::Stopped);

  route("b", std::vector<std::string>{"pacs"});  // while stopped
  delivery->start();
  EXPECT_EQ(delivery->state(), RunState::Running);
  EXPECT_EQ(delivery->preparationState(), RunState::Running);
  until([&] { return peers_["pacs"].sentCount() == 2 && waiting("pacs") == 0; });
  route("c", std::vector<std::string>{"pacs"});
  delivery->notify("pacs");  // the lane's Wakeup works again after the restart
  until([&] { return peers_["pacs"].sentCount() == 3 && waiting("pacs") == 0; });
  delivery->stop();
  EXPECT_EQ(delivery->state(), RunState::Stopped);
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="delivered"} 3)"));
}

TEST_F(DeliveryTest, StopWithoutStartIsFine) {
  destination("pacs");
  auto delivery = makeDelivery();
  delivery->stop();
  EXPECT_EQ(delivery->state(), RunState::Stopped);
}

TEST_F(DeliveryTest, StopInterruptsABackoffOfAnHour) {
  DestinationConfig& pacs = destination("pacs");
  pacs.retry.initialDelay = 3600s;
  peers_["pacs"].answer = [](const Outgoing&) { return SendResult{SendOutcome::Retry, "out of resources", 0xA700}; };
  route("a", std::vector<std::string>{"pacs"});
  auto delivery = makeDelivery(2h);  // the retry, an hour away, is the nearest deadline
  delivery->start();
  until([&] { return jobs("pacs", JobState::Failed) == 1; });
  delivery->stop();  // returns (a hang is the failure)
  EXPECT_EQ(delivery->state(), RunState::Stopped);
  EXPECT_EQ(peers_["pacs"].sentCount(), 1u);
}

}  // namespace
}  // namespace router
