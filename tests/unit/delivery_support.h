// The lane runner's test bench, shared by delivery_test and operations_test:
// fake destinations with scripted answers (Peer), an in-memory instance store,
// a log that counts lines, a movable circuit-breaker clock, and a fixture
// over the real SQLite queue that routes instances to destinations.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "plugins/core/delivery/Delivery.h"
#include "tests/unit/lines_log.h"
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
  ChangeBatch changesSince(int64_t since, int) override {
    ChangeBatch none;
    none.last = since;
    return none;
  }
  int64_t lastChange() override { return 0; }
  std::string readFile(const std::string& id) override {
    auto it = files.find(id);
    if (it == files.end()) throw InstanceGoneError("no instance " + id);
    return it->second;
  }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string&) override {}
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
    for (const std::string& name : destinations) routes.push_back(Route{name, "", {}, 0, {}});
    return route(id, routes);
  }

  std::unique_ptr<Delivery> makeDelivery(std::chrono::milliseconds idlePoll = std::chrono::seconds(2)) {
    return std::make_unique<Delivery>(
        config_, store_, *queue_, *transcoder_, cache_, log_, metrics_, nullptr, nullptr,
        [this](const DestinationConfig& d) { return std::make_unique<FakeDestination>(peers_[d.name]); },
        clock_.now(), idlePoll, [this] { return Clock::time_point(std::chrono::milliseconds(wallMs_.load())); });
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
  // The wall clock of the delivery windows (ms since the epoch); the real time unless a test sets it.
  std::atomic<int64_t> wallMs_{std::chrono::duration_cast<std::chrono::milliseconds>(
                                   Clock::now().time_since_epoch()).count()};
  std::map<std::string, Peer> peers_;  // every destination's, made before start
  int64_t seq_ = 0;
};

}  // namespace
}  // namespace router
