#include "plugins/core/Operations.h"

namespace router {

Operations::Operations(const Config& config, AdminQueue& queue, Delivery& delivery, Wakeup& routingWakeup,
                       RuleBook& rules, Log& log)
    : config_(config), queue_(queue), delivery_(delivery), routingWakeup_(routingWakeup), rules_(rules), log_(log) {}

void Operations::checkDestination(const std::string& destination) const {
  if (!config_.destinations.count(destination)) throw UnknownDestinationError(destination);
}

std::vector<Job> Operations::listJobs(const JobFilter& filter) {
  if (!filter.destination.empty()) checkDestination(filter.destination);
  return queue_.listJobs(filter);
}

std::vector<IntakeItem> Operations::listRuleFailed(int limit) { return queue_.listIntake(IntakeState::RuleFailed, limit); }

std::optional<Job> Operations::job(int64_t id) { return queue_.getJob(id); }

JobActionResult Operations::retryJob(int64_t id) {
  JobActionResult result;
  result.job = queue_.getJob(id);
  if (!result.job) {
    result.refusal = JobRefusal::NotFound;
    return result;
  }
  if (!queue_.retryJobNow(id)) {
    result.refusal = JobRefusal::WrongState;
    return result;
  }
  delivery_.notify(result.job->route.destination);
  // A worker may take it at once: report what this call did, not a re-read.
  result.job->state = JobState::Pending;
  result.job->attempts = 0;
  return result;
}

JobActionResult Operations::purgeJob(int64_t id) {
  JobActionResult result;
  result.job = queue_.getJob(id);
  if (!result.job) {
    result.refusal = JobRefusal::NotFound;
    return result;
  }
  if (!queue_.purgeJob(id)) {
    result.refusal = JobRefusal::Busy;
    return result;
  }
  log_.warning("job " + std::to_string(id) + " to " + result.job->route.destination + " purged by an operator");
  return result;
}

int Operations::retryDead(const std::string& destination) {
  checkDestination(destination);
  const int n = queue_.retryDead(destination);
  delivery_.notify(destination);
  return n;
}

int Operations::purgeDead(const std::string& destination) {
  checkDestination(destination);
  const int n = queue_.purgeDead(destination);
  log_.warning(std::to_string(n) + " dead job(s) of " + destination + " purged by an operator");
  return n;
}

void Operations::pause(const std::string& destination, bool paused) {
  checkDestination(destination);
  delivery_.pause(destination, paused);
}

int Operations::rerouteFailed() {
  const int n = queue_.rerouteFailed();
  if (n > 0) routingWakeup_.notify();
  return n;
}

std::string Operations::reloadRules() {
  try {
    return rules_.reload();
  } catch (const std::exception& e) {
    log_.error(std::string("rules reload refused, the previous rules stay in force: ") + e.what());
    throw;
  }
}

}  // namespace router
