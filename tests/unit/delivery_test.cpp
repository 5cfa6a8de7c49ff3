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

#include "plugins/core/delivery/Delivery.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using namespace std::chrono_literals;

// What a destination's fake peer does, shared by the Destination objects of
// its workers.
struct Peer {
  std::mutex mutex;
  // The answer to one instance (by default: delivered).
  std::function<SendResult(const Outgoing&)> answer = [](const Outgoing&) { return SendResult{}; };
  std::vector<std::pair<std::string, std::string>> sent;  // SOP instance UID, syntax
  std::vector<size_t> batches;
  std::vector<std::string> accepted;  // acceptedTransferSyntaxes()
  int maxBatch = 1;
  std::atomic<bool> answersProbes{false};
  std::atomic<int> probes{0};

  size_t sentCount() {
    std::lock_guard<std::mutex> lock(mutex);
    return sent.size();
  }
};

class FakeDestination : public Destination {
 public:
  explicit FakeDestination(Peer& peer) : peer_(peer) {}
  SendResult send(const Outgoing& instance) override {
    std::lock_guard<std::mutex> lock(peer_.mutex);
    peer_.sent.emplace_back(instance.sopInstanceUid, instance.transferSyntax);
    return peer_.answer(instance);
  }
  int maxBatch() const override { return peer_.maxBatch; }
  std::vector<SendResult> sendBatch(const std::vector<Outgoing>& instances) override {
    {
      std::lock_guard<std::mutex> lock(peer_.mutex);
      peer_.batches.push_back(instances.size());
    }
    return Destination::sendBatch(instances);
  }
  bool probe() override {
    ++peer_.probes;
    return peer_.answersProbes;
  }
  std::vector<std::string> acceptedTransferSyntaxes(const std::string&) const override {
    std::lock_guard<std::mutex> lock(peer_.mutex);
    return peer_.accepted;
  }

 private:
  Peer& peer_;
};

class MemoryStore : public InstanceStore {
 public:
  std::map<std::string, std::string> files;  // filled before delivery starts
  ChangeBatch changesSince(int64_t since, int) override { return {{}, since, true}; }
  int64_t lastChange() override { return 0; }
  std::string readFile(const std::string& id) override {
    auto it = files.find(id);
    if (it == files.end()) throw InstanceGoneError("no instance " + id);
    return it->second;
  }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string&) override {}
};

class LinesLog : public Log {
 public:
  void info(const std::string& m) override { add(m); }
  void warning(const std::string& m) override { add(m); }
  void error(const std::string& m) override { add(m); }
  int count(const std::string& part) {
    std::lock_guard<std::mutex> lock(mutex_);
    int n = 0;
    for (const std::string& line : lines_) n += line.find(part) != std::string::npos;
    return n;
  }

 private:
  void add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(line);
  }
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Safe to read from the lanes' threads while the test moves it.
struct FakeClock {
  const std::chrono::steady_clock::time_point base{std::chrono::hours(1000)};
  std::atomic<int64_t> seconds{0};
  SteadyNow now() {
    return [this] { return base + std::chrono::seconds(seconds.load()); };
  }
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class DeliveryTest : public ::testing::Test {
 protected:
  DestinationConfig& destination(const std::string& name) {
    DestinationConfig& d = config_.destinations[name];
    d.name = name;
    d.retry.initialDelay = 60s;  // a retried job waits past the end of the test
    d.retry.maxAttempts = 3;
    d.circuitBreaker.failures = 100;
    return d;
  }

  // An instance stored as `id` and routed to `routes`; returns its SOP Instance UID.
  std::string route(const std::string& id, const std::vector<Route>& routes, bool stored = true) {
    testdata::ImageSpec spec = testdata::withIdentity(testdata::ctSeries(1, ++seq_, 8, 8).front());
    if (stored) store_.files[id] = testdata::makeInstance(spec);
    queue_->recordChanges({{seq_, id}}, seq_, false);
    auto item = queue_->claimIntake();
    EXPECT_TRUE(item);
    queue_->finishRouting(item->id, spec.sopInstanceUid, routes);
    return spec.sopInstanceUid;
  }
  std::string route(const std::string& id, const std::vector<std::string>& destinations) {
    std::vector<Route> routes;
    for (const std::string& name : destinations) routes.push_back(Route{name, "", {}, 0});
    return route(id, routes);
  }

  std::unique_ptr<Delivery> makeDelivery(std::chrono::milliseconds idlePoll = 2s) {
    return std::make_unique<Delivery>(
        config_, store_, *queue_, *transcoder_, cache_, log_, metrics_, nullptr, nullptr,
        [this](const DestinationConfig& d) { return std::make_unique<FakeDestination>(peers_[d.name]); },
        clock_.now(), idlePoll);
  }

  int64_t jobs(const std::string& destination, JobState state) {
    QueueDepth depth = queue_->depth();
    auto d = depth.jobs.find(destination);
    if (d == depth.jobs.end()) return 0;
    auto s = d->second.find(state);
    return s == d->second.end() ? 0 : s->second;
  }
  int64_t waiting(const std::string& destination) {
    return jobs(destination, JobState::Pending) + jobs(destination, JobState::Sending) +
           jobs(destination, JobState::Failed);
  }
  std::optional<Job> onlyJob(const std::string& destination, JobState state) {
    JobFilter filter;
    filter.destination = destination;
    filter.state = state;
    std::vector<Job> found = queue_->listJobs(filter);
    if (found.size() != 1) return std::nullopt;
    return found.front();
  }
  bool scraped(const std::string& line) {
    return metrics_.scrape(queue_->depth(), {}).find("\n" + line + "\n") != std::string::npos;
  }

  testdata::TempDir dir_{"router-delivery-test"};
  std::unique_ptr<Queue> queue_ = openSqliteQueue((dir_ / "queue.sqlite").string());
  std::unique_ptr<Transcoder> transcoder_ = makeTranscoder();
  Config config_;
  MemoryStore store_;
  PreparedCache cache_{16u << 20};
  Metrics metrics_;
  LinesLog log_;
  FakeClock clock_;
  std::map<std::string, Peer> peers_;  // every destination's, made before start
  int64_t seq_ = 0;
};

TEST_F(DeliveryTest, EachJobEndsPerItsOutcomeAndAFailingDestinationHoldsUpNoOther) {
  destination("pacs");
  destination("ai");
  peers_["pacs"];
  const std::string retried = route("a", std::vector<std::string>{"pacs", "ai"});
  const std::string refused = route("b", std::vector<std::string>{"pacs", "ai"});
  const std::string taken = route("c", std::vector<std::string>{"pacs", "ai"});
  route("gone", std::vector<Route>{Route{"pacs", "", {}, 0}}, /*stored=*/false);
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
  const std::string sop = route("a", std::vector<Route>{Route{"pacs", ts::kJPEGLSLossless, {}, 0}});

  auto delivery = makeDelivery();
  delivery->start();
  ASSERT_TRUE(eventually([&] { return waiting("pacs") == 0; }));
  delivery->stop();
  std::vector<std::pair<std::string, std::string>> expected{{sop, ts::kJPEGLSLossless},
                                                            {sop, ts::kExplicitVRLittleEndian}};
  EXPECT_EQ(peer.sent, expected);
  EXPECT_EQ(jobs("pacs", JobState::Dead), 0);
  EXPECT_EQ(log_.count("delivery to pacs: JPEGLSLossless refused by the peer, sending as ExplicitVRLittleEndian"), 1);
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
