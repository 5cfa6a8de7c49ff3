// Outcome recording: one event per job goes to the queue (done, retry with
// backoff, dead letter), the metrics, the audit log and the log, and they
// all tell the same story. With the real SQLite queue in a temp folder.
#include <gtest/gtest.h>
#include <json/json.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "plugins/core/delivery/Outcomes.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/lines_log.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

using namespace std::chrono_literals;

class CountingStore : public InstanceStore {
 public:
  std::vector<std::string> deleted;
  ChangeBatch changesSince(int64_t since, int) override {
    ChangeBatch none;
    none.last = since;
    return none;
  }
  int64_t lastChange() override { return 0; }
  std::string readFile(const std::string&) override { return "file"; }
  Origin readOrigin(const std::string&) override { return {}; }
  void deleteInstance(const std::string& id) override { deleted.push_back(id); }
};

class OutcomesTest : public ::testing::Test {
 protected:
  OutcomesTest() {
    for (const char* name : {"pacs", "folder", "backup"}) {
      DestinationConfig d;
      d.name = name;
      d.retry.initialDelay = 5s;
      d.retry.maxAttempts = 3;
      config_.destinations[name] = d;
    }
    config_.destinations["pacs"].failover = "backup";
  }

  // One instance routed to `destinations`; the job of the first, claimed.
  Job enqueue(const std::string& instanceId, const std::vector<std::string>& destinations) {
    queue_->recordChanges({{++seq_, instanceId}}, seq_, false);
    auto item = queue_->claimIntake();
    EXPECT_TRUE(item);
    std::vector<Route> routes;
    for (const std::string& name : destinations) {
      Route r;
      r.destination = name;
      routes.push_back(r);
    }
    queue_->finishRouting(item->id, "1.2.3." + std::to_string(seq_), routes);
    auto job = queue_->claimJob(destinations.front());
    EXPECT_TRUE(job);
    return *job;
  }

  OutcomeEvent delivered(const Job& job) {
    OutcomeEvent event = forJob(job.route.destination, job);
    event.outcome = SendOutcome::Delivered;
    event.answered = true;
    event.transferSyntax = ts::kJPEGLSLossless;
    event.bytes = 1234;
    event.duration = 56ms;
    return event;
  }

  std::vector<Json::Value> auditLines() {
    std::ifstream in(auditPath_);
    std::vector<Json::Value> lines;
    std::string text;
    while (std::getline(in, text)) {
      Json::Value value;
      std::istringstream stream(text);
      EXPECT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), stream, &value, nullptr)) << text;
      lines.push_back(value);
    }
    return lines;
  }

  bool scraped(const std::string& line) {
    std::string text = metrics_.scrape(queue_->depth(), {"pacs", "folder", "backup"});
    return text.find("\n" + line + "\n") != std::string::npos;
  }

  testdata::TempDir dir_{"router-outcomes-test"};
  std::unique_ptr<Queue> queue_ = openSqliteQueue((dir_ / "queue.sqlite").string());
  std::string auditPath_ = (dir_ / "audit.log").string();
  AuditLog audit_{auditPath_};
  Config config_;
  CountingStore store_;
  PreparedCache cache_{1u << 20};
  Metrics metrics_;
  LinesLog log_;
  std::vector<std::string> held_;
  Outcomes outcomes_{config_, *queue_, store_, cache_, metrics_, log_, &audit_,
                     [this](const std::string& d) { return std::find(held_.begin(), held_.end(), d) != held_.end(); }};
  int64_t seq_ = 0;
};

TEST_F(OutcomesTest, ADeliveryCompletesTheJobAndIsCountedAuditedAndLogged) {
  Job job = enqueue("a", {"pacs"});
  outcomes_.record(delivered(job));

  EXPECT_FALSE(queue_->getJob(job.id));  // done: gone from the queue
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="delivered"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_sent_bytes_total{destination="pacs",transfer_syntax="JPEGLSLossless"} 1234)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_send_duration_seconds_count{destination="pacs"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_destination_up{destination="pacs"} 1)"));
  std::vector<Json::Value> lines = auditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["outcome"].asString(), "delivered");
  EXPECT_EQ(lines[0]["job"].asInt64(), job.id);
  EXPECT_EQ(lines[0]["destination"].asString(), "pacs");
  EXPECT_EQ(lines[0]["sop_instance_uid"].asString(), job.sopInstanceUid);
  EXPECT_EQ(lines[0]["instance"].asString(), "a");
  EXPECT_EQ(lines[0]["transfer_syntax"].asString(), "JPEGLSLossless");
  EXPECT_EQ(lines[0]["bytes"].asUInt64(), 1234u);
  EXPECT_EQ(lines[0]["ms"].asInt64(), 56);
  EXPECT_EQ(lines[0]["attempt"].asInt(), 1);
  EXPECT_FALSE(lines[0].isMember("detail"));
  EXPECT_EQ(log_.count("info: delivered job=" + std::to_string(job.id) + " destination=pacs sop=" +
                       job.sopInstanceUid + " syntax=JPEGLSLossless bytes=1234 ms=56 attempt=1"),
            1);
}

TEST_F(OutcomesTest, AWarningIsDeliveredAndItsDetailKept) {
  Job job = enqueue("a", {"pacs"});
  OutcomeEvent event = delivered(job);
  event.warning = true;
  event.detail = "coerced (0xB000)";
  outcomes_.record(event);
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="delivered_warning"} 1)"));
  EXPECT_EQ(auditLines().at(0)["detail"].asString(), "coerced (0xB000)");
  EXPECT_EQ(log_.count(" warning=coerced (0xB000)"), 1);
}

TEST_F(OutcomesTest, ARetryableFailureWaitsWithBackoffUntilItsAttemptsAreUsed) {
  Job job = enqueue("a", {"pacs"});
  OutcomeEvent event = forJob("pacs", job);
  event.outcome = SendOutcome::Retry;
  event.reason = "connection";
  event.detail = "association rejected";
  event.answered = false;
  const auto before = Clock::now();
  outcomes_.record(event);

  auto waiting = queue_->getJob(job.id);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, JobState::Failed);
  EXPECT_EQ(waiting->lastError, "association rejected");
  EXPECT_GE(waiting->nextAttemptAt, before + 4s);  // InitialDelay 5 s, jitter +-20%
  EXPECT_LE(waiting->nextAttemptAt, Clock::now() + 6s);
  EXPECT_TRUE(scraped(R"(orthanc_router_retries_total{destination="pacs",reason="connection"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="retried"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_destination_up{destination="pacs"} 0)"));
  EXPECT_EQ(auditLines().at(0)["outcome"].asString(), "retry");
  EXPECT_EQ(auditLines().at(0)["detail"].asString(), "association rejected");
  EXPECT_EQ(log_.count("warning: delivery to pacs failed (job " + std::to_string(job.id) + ", attempt 1)"), 1);

  // The last attempt (MaxAttempts 3) failing the same way: a dead letter.
  event.attempt = 3;
  outcomes_.record(event);
  auto dead = queue_->getJob(job.id);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, JobState::Dead);
  EXPECT_EQ(dead->lastError, "gave up after 3 attempts: association rejected");
  EXPECT_TRUE(scraped(R"(orthanc_router_dead_letters_total{destination="pacs",reason="max_attempts"} 1)"));
  EXPECT_EQ(auditLines().at(1)["outcome"].asString(), "dead");
  EXPECT_EQ(auditLines().at(1)["attempt"].asInt(), 3);
  EXPECT_EQ(log_.count("moved to dead letters: gave up after 3 attempts"), 1);
}

TEST_F(OutcomesTest, APermanentFailureIsADeadLetterAtOnce) {
  Job job = enqueue("a", {"pacs"});
  OutcomeEvent event = forJob("pacs", job);
  event.outcome = SendOutcome::Permanent;
  event.reason = "status_01xx";
  event.detail = "SOP class not supported (0x0122)";
  event.answered = true;
  outcomes_.record(event);
  auto dead = queue_->getJob(job.id);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, JobState::Dead);
  EXPECT_EQ(dead->lastError, "SOP class not supported (0x0122)");
  EXPECT_TRUE(scraped(R"(orthanc_router_dead_letters_total{destination="pacs",reason="status_01xx"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="dead"} 1)"));
  EXPECT_TRUE(scraped(R"(orthanc_router_destination_up{destination="pacs"} 1)"));  // it did answer
  EXPECT_EQ(auditLines().at(0)["detail"].asString(), "SOP class not supported (0x0122)");
  EXPECT_EQ(log_.count("; once fixed: retry job " + std::to_string(job.id)), 1);
}

TEST_F(OutcomesTest, AFailureBeforeAnySendSaysNothingAboutTheDestinationsHealth) {
  Job job = enqueue("a", {"pacs"});
  OutcomeEvent event = forJob("pacs", job);
  event.outcome = SendOutcome::Permanent;
  event.reason = "tag_edit";
  event.detail = "tag edits cannot be applied: no such keyword";
  outcomes_.record(event);
  EXPECT_EQ(queue_->getJob(job.id)->state, JobState::Dead);
  EXPECT_TRUE(scraped(R"(orthanc_router_dead_letters_total{destination="pacs",reason="tag_edit"} 1)"));
  EXPECT_EQ(metrics_.scrape(queue_->depth(), {}).find("orthanc_router_destination_up{"), std::string::npos);
}

TEST_F(OutcomesTest, DeleteAfterDeliveryWaitsForTheLastDestination) {
  config_.deleteAfterDelivery = true;
  Job first = enqueue("a", {"pacs", "folder"});
  outcomes_.record(delivered(first));
  EXPECT_TRUE(store_.deleted.empty());  // the folder still waits for it
  auto second = queue_->claimJob("folder");
  ASSERT_TRUE(second);
  outcomes_.record(delivered(*second));
  EXPECT_EQ(store_.deleted, std::vector<std::string>{"a"});
}

TEST_F(OutcomesTest, CachedFilesGoOnceNoDestinationThatIsUpStillWaits) {
  Job first = enqueue("a", {"pacs", "folder"});
  cache_.get(cachekey::file("a"), [] { return std::string(1000, 'x'); });
  outcomes_.record(delivered(first));
  EXPECT_GT(cache_.bytes(), 0u);  // the folder will want it soon

  Job other = enqueue("b", {"pacs", "folder"});
  cache_.get(cachekey::file("b"), [] { return std::string(1000, 'y'); });
  held_ = {"folder"};  // down or paused: its job reads the file again later
  const size_t before = cache_.bytes();
  outcomes_.record(delivered(other));
  EXPECT_EQ(cache_.bytes(), before - 1001);
}

TEST_F(OutcomesTest, AFailoverIsCountedAuditedAndLogged) {
  outcomes_.failedOver(config_.destinations.at("pacs"), 4, 312s);
  EXPECT_TRUE(scraped(R"(orthanc_router_failover_jobs_total{destination="pacs",failover="backup"} 4)"));
  std::vector<Json::Value> lines = auditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["outcome"].asString(), "failed-over");
  EXPECT_EQ(lines[0]["destination"].asString(), "pacs");
  EXPECT_EQ(lines[0]["detail"].asString(), "4 waiting jobs moved to backup");
  EXPECT_EQ(log_.count("warning: destination pacs down for 312 s: 4 waiting jobs moved to its failover backup"), 1);
}

TEST_F(OutcomesTest, AnAuditLogThatCannotBeWrittenIsSaidOnceAndDeliveryGoesOn) {
  AuditLog full("/dev/full");  // every write fails with ENOSPC
  Outcomes outcomes(config_, *queue_, store_, cache_, metrics_, log_, &full, {});
  Job first = enqueue("a", {"pacs"});
  Job second = enqueue("b", {"pacs"});
  outcomes.record(delivered(first));
  outcomes.record(delivered(second));
  EXPECT_FALSE(queue_->getJob(first.id));
  EXPECT_FALSE(queue_->getJob(second.id));
  EXPECT_EQ(log_.count("error: audit log /dev/full: cannot write"), 1);
  EXPECT_TRUE(scraped(R"(orthanc_router_jobs_total{destination="pacs",outcome="delivered"} 2)"));
}

}  // namespace
}  // namespace router
