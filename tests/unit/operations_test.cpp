// The operator's use cases (Operations) over the real SQLite queue and the
// lane runner with fake destinations: what each action does to the jobs, what
// it refuses and why, that it wakes the stage that must act, and that the
// destructive ones are logged.
#include <gtest/gtest.h>

#include <fstream>

#include "plugins/core/Operations.h"
#include "tests/unit/delivery_support.h"

namespace router {
namespace {

using namespace std::chrono_literals;

class OperationsTest : public DeliveryTest {
 protected:
  OperationsTest() {
    std::filesystem::create_directories(dir_ / "rules");
    writeRules("function route(i) return { { destination = \"pacs\" } } end\n");
  }
  void writeRules(const std::string& text) { std::ofstream(dir_ / "rules" / "10.lua") << text; }
  std::unique_ptr<RuleBook> makeRules() {
    return std::make_unique<RuleBook>((dir_ / "rules").string(), std::set<std::string>{"pacs"}, RuleLimits{}, log_);
  }
  Wakeup routingWakeup_;
};

TEST_F(OperationsTest, ADeadJobRetriedIsDeliveredAndDeadLettersArePurgedWithALogLine) {
  destination("pacs");
  std::atomic<bool> fixed{false};
  peers_["pacs"].answer = [&](const Outgoing&) {
    return fixed ? SendResult{} : SendResult{SendOutcome::Permanent, "SOP class not supported (0x0122)", 0x0122};
  };
  const std::string first = route("a", std::vector<std::string>{"pacs"});
  route("b", std::vector<std::string>{"pacs"});
  route("c", std::vector<std::string>{"pacs"});
  auto delivery = makeDelivery();
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_);
  delivery->start();
  ASSERT_TRUE(eventually([&] { return jobs("pacs", JobState::Dead) == 3; }));

  fixed = true;
  JobFilter filter;
  filter.destination = "pacs";
  filter.state = JobState::Dead;
  std::vector<Job> all = ops.listJobs(filter);
  ASSERT_EQ(all.size(), 3u);
  JobActionResult retried = ops.retryJob(all[0].id);
  EXPECT_EQ(retried.refusal, JobRefusal::None);
  ASSERT_TRUE(retried.job);
  EXPECT_EQ(retried.job->state, JobState::Pending);
  EXPECT_EQ(retried.job->attempts, 0);
  // The lane is woken: the job leaves the queue delivered.
  ASSERT_TRUE(eventually([&] { return jobs("pacs", JobState::Dead) == 2 && waiting("pacs") == 0; }));
  EXPECT_FALSE(ops.job(all[0].id));

  EXPECT_EQ(ops.purgeDead("pacs"), 2);
  EXPECT_EQ(jobs("pacs", JobState::Dead), 0);
  EXPECT_EQ(log_.count("2 dead job(s) of pacs purged by an operator"), 1);
  delivery->stop();
}

TEST_F(OperationsTest, RefusalsSayWhyAndChangeNothing) {
  destination("pacs");
  route("a", std::vector<std::string>{"pacs"});
  auto delivery = makeDelivery();  // not started: the job stays pending
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_);
  std::optional<Job> pending = onlyJob("pacs", JobState::Pending);
  ASSERT_TRUE(pending);

  JobActionResult retried = ops.retryJob(pending->id);
  EXPECT_EQ(retried.refusal, JobRefusal::WrongState);
  EXPECT_EQ(ops.retryJob(pending->id + 1000).refusal, JobRefusal::NotFound);
  EXPECT_EQ(ops.purgeJob(pending->id + 1000).refusal, JobRefusal::NotFound);
  EXPECT_THROW(ops.retryDead("nowhere"), UnknownDestinationError);
  EXPECT_THROW(ops.purgeDead("nowhere"), UnknownDestinationError);
  EXPECT_THROW(ops.pause("nowhere", true), UnknownDestinationError);
  JobFilter filter;
  filter.destination = "nowhere";
  EXPECT_THROW(ops.listJobs(filter), UnknownDestinationError);
  EXPECT_EQ(waiting("pacs"), 1);

  JobActionResult purged = ops.purgeJob(pending->id);
  EXPECT_EQ(purged.refusal, JobRefusal::None);
  EXPECT_EQ(waiting("pacs"), 0);
  EXPECT_EQ(log_.count("job " + std::to_string(pending->id) + " to pacs purged by an operator"), 1);
}

TEST_F(OperationsTest, PauseHoldsTheDestinationUntilResumed) {
  destination("pacs");
  auto delivery = makeDelivery();
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_);
  ops.pause("pacs", true);
  delivery->start();
  route("a", std::vector<std::string>{"pacs"});
  delivery->notify("pacs");
  std::this_thread::sleep_for(300ms);  // a paused lane takes nothing meanwhile
  EXPECT_EQ(peers_["pacs"].sentCount(), 0u);
  EXPECT_TRUE(delivery->isPaused("pacs"));
  ops.pause("pacs", false);
  ASSERT_TRUE(eventually([&] { return peers_["pacs"].sentCount() == 1u; }));
  delivery->stop();
}

TEST_F(OperationsTest, ARefusedReloadKeepsTheRulesInForceAndSaysWhere) {
  destination("pacs");
  auto delivery = makeDelivery();
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_);
  const std::string before = rules->current()->version;
  writeRules("function route(i) return {{ destination = \"pacs\" } end\n");
  try {
    ops.reloadRules();
    ADD_FAILURE() << "a rule file with a syntax error was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("10.lua"), std::string::npos) << e.what();
  }
  EXPECT_EQ(rules->current()->version, before);
  EXPECT_EQ(log_.count("rules reload refused, the previous rules stay in force"), 1);
  writeRules("function route(i) return { { destination = \"pacs\", priority = 2 } } end\n");
  EXPECT_NE(ops.reloadRules(), before);
}

TEST_F(OperationsTest, RerouteMovesRuleFailedInstancesBackAndWakesRouting) {
  destination("pacs");
  queue_->recordChanges({{1, "x"}}, 1, false);
  auto item = queue_->claimIntake();
  ASSERT_TRUE(item);
  queue_->failRouting(item->id, "rule error");
  auto delivery = makeDelivery();
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_);
  ASSERT_EQ(ops.listRuleFailed(10).size(), 1u);
  const uint64_t generation = routingWakeup_.generation();
  EXPECT_EQ(ops.rerouteFailed(), 1);
  EXPECT_NE(routingWakeup_.generation(), generation);
  EXPECT_TRUE(ops.listRuleFailed(10).empty());
  EXPECT_TRUE(queue_->claimIntake());
}

// Re-identification: only for a project that allows it; every call, answered
// or refused, in the log and the audit log, with the pseudonym and who asked
// but never the patient's identity.
TEST_F(OperationsTest, ReidentificationLookupIsAllowedPerProjectAndAudited) {
  destination("pacs");
  config_.deidentification.projects["open"].lookup = true;
  config_.deidentification.projects["closed"].lookup = false;
  const std::string pseudonym = queue_->assignPseudonym("open", "PID-7", "PID-7", "Doe^Jane", "OPEN");
  queue_->assignPseudonym("closed", "PID-7", "PID-7", "Doe^Jane", "CLOSED");
  const std::string auditPath = (dir_ / "audit.log").string();
  AuditLog audit(auditPath);
  auto delivery = makeDelivery();
  auto rules = makeRules();
  Operations ops(config_, *queue_, *queue_, *delivery, routingWakeup_, *rules, log_, &audit, queue_.get());

  LookupResult found = ops.lookupPseudonym("open", pseudonym, "alice");
  EXPECT_EQ(found.refusal, LookupRefusal::None);
  ASSERT_TRUE(found.entry);
  EXPECT_EQ(found.entry->patientId, "PID-7");
  EXPECT_EQ(found.entry->patientName, "Doe^Jane");
  EXPECT_EQ(ops.lookupPseudonym("closed", "CLOSED-000001", "bob").refusal, LookupRefusal::NotAllowed);
  EXPECT_EQ(ops.lookupPseudonym("open", "OPEN-999999", "alice").refusal, LookupRefusal::NotFound);
  EXPECT_EQ(ops.lookupPseudonym("nowhere", "X", "").refusal, LookupRefusal::UnknownProject);

  std::ifstream in(auditPath);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[0].find("\"outcome\":\"reidentification-lookup\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("re-identification lookup of " + pseudonym + " in project open by alice: found"),
            std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("by bob: refused (Lookup is off for the project)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("not found"), std::string::npos);
  EXPECT_NE(lines[3].find("by (anonymous): refused (no such project)"), std::string::npos) << lines[3];
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("PID-7"), std::string::npos) << line;
    EXPECT_EQ(line.find("Doe"), std::string::npos) << line;
  }
  EXPECT_EQ(log_.count("re-identification lookup of"), 4);
}

}  // namespace
}  // namespace router
