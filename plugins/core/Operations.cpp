#include "plugins/core/Operations.h"

namespace router {

Operations::Operations(const Config& config, AdminQueue& queue, BatchQueue& batches, Delivery& delivery,
                       Wakeup& routingWakeup, RuleBook& rules, Log& log, AuditLog* audit,
                       PseudonymQueue* pseudonyms)
    : config_(config),
      queue_(queue),
      batches_(batches),
      delivery_(delivery),
      routingWakeup_(routingWakeup),
      rules_(rules),
      log_(log),
      audit_(audit),
      pseudonyms_(pseudonyms) {}

const char* toString(BatchAction action) {
  switch (action) {
    case BatchAction::Release: return "release";
    case BatchAction::Hold: return "hold";
    case BatchAction::Resume: return "resume";
    case BatchAction::Cancel: return "cancel";
  }
  return "unknown";
}

std::vector<Batch> Operations::listBatches(std::optional<BatchState> state, int limit) {
  return batches_.listBatches(state, limit);
}

std::optional<Batch> Operations::batch(int64_t id) { return batches_.getBatch(id); }

BatchActionResult Operations::actOnBatch(int64_t id, BatchAction action) {
  BatchActionResult result;
  result.batch = batches_.getBatch(id);
  result.found = result.batch.has_value();
  if (!result.found) return result;
  switch (action) {
    case BatchAction::Release: result.done = batches_.releaseBatch(id, Clock::now()); break;
    case BatchAction::Hold: result.done = batches_.holdBatch(id); break;
    case BatchAction::Resume: result.done = batches_.resumeBatch(id); break;
    case BatchAction::Cancel: result.done = batches_.cancelBatch(id); break;
  }
  if (!result.done) return result;
  const Batch before = *result.batch;
  result.batch = batches_.getBatch(id);
  if (action == BatchAction::Release) delivery_.notify(before.destination);
  const std::string what = std::string(toString(before.level)) + " " + before.uid + " for " + before.destination +
                           " (" + std::to_string(before.instances) + " instance(s), batch " + std::to_string(id) + ")";
  log_.warning(std::string("batches: ") + toString(action) + " of " + what + " by an operator");
  if (audit_ != nullptr) {
    AuditEntry entry;
    entry.outcome = std::string("batch-") + toString(action);
    entry.destination = before.destination;
    entry.detail = what + " by an operator";
    audit_->record(entry);
  }
  return result;
}

void Operations::checkDestination(const std::string& destination) const {
  if (!config_.destinations.count(destination)) throw UnknownDestinationError(destination);
}

std::vector<Job> Operations::listJobs(const JobFilter& filter) {
  if (!filter.destination.empty()) checkDestination(filter.destination);
  return queue_.listJobs(filter);
}

std::vector<IntakeItem> Operations::listRuleFailed(int limit) { return queue_.listIntake(IntakeState::RuleFailed, limit); }

std::optional<Job> Operations::job(int64_t id) { return queue_.getJob(id); }

std::optional<std::vector<std::string>> Operations::jobTrail(int64_t id, size_t limit) const {
  if (audit_ == nullptr) return std::nullopt;
  return audit_->trailOf(id, limit);
}

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

LookupResult Operations::lookupPseudonym(const std::string& project, const std::string& pseudonym,
                                         const std::string& who) {
  LookupResult result;
  auto p = config_.deidentification.projects.find(project);
  if (p == config_.deidentification.projects.end()) {
    result.refusal = LookupRefusal::UnknownProject;
  } else if (!p->second.lookup) {
    result.refusal = LookupRefusal::NotAllowed;
  } else {
    result.entry = pseudonyms_ ? pseudonyms_->findPseudonym(project, pseudonym) : std::nullopt;
    if (!result.entry) result.refusal = LookupRefusal::NotFound;
  }
  const char* outcome = result.refusal == LookupRefusal::None         ? "found"
                        : result.refusal == LookupRefusal::NotFound   ? "not found"
                        : result.refusal == LookupRefusal::NotAllowed ? "refused (Lookup is off for the project)"
                                                                      : "refused (no such project)";
  // The pseudonym and who asked; the patient's identity stays out of every log.
  const std::string what = "re-identification lookup of " + pseudonym + " in project " + project + " by " +
                           (who.empty() ? std::string("(anonymous)") : who) + ": " + outcome;
  log_.warning(what);
  if (audit_ != nullptr) {
    AuditEntry entry;
    entry.outcome = "reidentification-lookup";
    entry.detail = what;
    audit_->record(entry);
  }
  return result;
}

}  // namespace router
