// What an operator does with a running appliance: list and act on jobs,
// retry or purge a destination's dead letters, hold a destination, re-route
// what the rules failed on, reload the rules. The REST API (plugins/orthanc)
// only translates requests to these calls and their results to answers.
//
// Every action that changes the queue wakes the stage that must act on it,
// and every destructive one is logged.
//
// Thread safety: all methods may be called from any thread (REST handlers
// run on Orthanc's HTTP threads); the queue and the stages synchronise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/Error.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/AuditLog.h"
#include "plugins/core/delivery/Delivery.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/routing/RuleBook.h"

namespace router {

// A destination name that is not configured.
class UnknownDestinationError : public RouterError {
 public:
  explicit UnknownDestinationError(const std::string& name)
      : RouterError("no destination named \"" + name + "\"") {}
};

// A reason an action on one job did not happen.
enum class JobRefusal { None, NotFound, Busy, WrongState };

struct JobActionResult {
  JobRefusal refusal = JobRefusal::None;
  std::optional<Job> job;  // as the action left it (or as found, when refused)
};

enum class BatchAction { Release, Hold, Resume, Cancel };
const char* toString(BatchAction action);  // release, hold, resume, cancel

struct BatchActionResult {
  bool found = false;
  bool done = false;           // false: the batch is not in a state the action applies to
  std::optional<Batch> batch;  // as the action left it
};

// A re-identification lookup: who a de-identification project's pseudonym
// stands for, or why not.
enum class LookupRefusal { None, UnknownProject, NotAllowed, NotFound };

struct LookupResult {
  LookupRefusal refusal = LookupRefusal::None;
  std::optional<PseudonymEntry> entry;
};

class Operations {
 public:
  // audit: Router.AuditLog, if set (operators' actions on batches and
  // re-identification lookups go there). pseudonyms: the mapping table of
  // de-identification (nullptr: every lookup finds nothing).
  Operations(const Config& config, AdminQueue& queue, BatchQueue& batches, Delivery& delivery, Wakeup& routingWakeup,
             RuleBook& rules, Log& log, AuditLog* audit = nullptr, PseudonymQueue* pseudonyms = nullptr);

  // Throws UnknownDestinationError.
  void checkDestination(const std::string& destination) const;

  std::vector<Job> listJobs(const JobFilter& filter);
  std::vector<IntakeItem> listRuleFailed(int limit);
  std::optional<Job> job(int64_t id);
  // The job's audit-trail lines (JSON, oldest first, at most limit);
  // nullopt without Router.AuditLog.
  std::optional<std::vector<std::string>> jobTrail(int64_t id, size_t limit) const;

  // A failed or dead job made due now, with its attempts reset.
  JobActionResult retryJob(int64_t id);
  // A job removed from the queue (not while it is being sent).
  JobActionResult purgeJob(int64_t id);
  // Every dead job of a destination made due again / removed; how many.
  int retryDead(const std::string& destination);
  int purgeDead(const std::string& destination);
  // Holds (true) or releases a destination's jobs.
  void pause(const std::string& destination, bool paused);
  // Rule-failed instances routed again; how many.
  int rerouteFailed();
  // The version now in force. Throws, naming file and line, when the new
  // rules are refused; the previous rules then stay in force.
  std::string reloadRules();

  // Series and studies (batches): newest first, all states when nullopt.
  std::vector<Batch> listBatches(std::optional<BatchState> state, int limit);
  std::optional<Batch> batch(int64_t id);
  // Release now, hold, let completion apply again, or cancel (its held jobs
  // are dropped). Logged and written to the audit log.
  BatchActionResult actOnBatch(int64_t id, BatchAction action);

  // Authorised re-identification: the original PatientID and PatientName of
  // a pseudonym, for a project whose Lookup is allowed. Every call, answered
  // or refused, goes to the log and the audit log with `who` (the user and
  // address asking), never with the patient's data.
  LookupResult lookupPseudonym(const std::string& project, const std::string& pseudonym, const std::string& who);

 private:
  const Config& config_;
  AdminQueue& queue_;
  BatchQueue& batches_;
  Delivery& delivery_;
  Wakeup& routingWakeup_;
  RuleBook& rules_;
  Log& log_;
  AuditLog* audit_;
  PseudonymQueue* pseudonyms_;
};

}  // namespace router
