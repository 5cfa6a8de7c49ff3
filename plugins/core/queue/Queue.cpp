// What every queue backend shares: the names of the states (REST API,
// metrics, status), the one checked mapping to their stored numbers, and the
// choice of backend from Router.QueueDatabase.
#include "plugins/core/queue/Queue.h"

#include "plugins/core/Error.h"

namespace router {

std::string toString(IntakeState state) {
  switch (state) {
    case IntakeState::New: return "new";
    case IntakeState::Routing: return "routing";
    case IntakeState::Routed: return "routed";
    case IntakeState::RuleFailed: return "rule-failed";
  }
  return "unknown";
}

std::string toString(JobState state) {
  switch (state) {
    case JobState::Pending: return "pending";
    case JobState::Sending: return "sending";
    case JobState::Failed: return "failed";
    case JobState::Dead: return "dead";
    case JobState::Held: return "held";
  }
  return "unknown";
}

std::string toString(BatchState state) {
  switch (state) {
    case BatchState::Waiting: return "waiting";
    case BatchState::OnHold: return "on-hold";
    case BatchState::Released: return "released";
    case BatchState::Delivered: return "delivered";
    case BatchState::Cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<BatchState> parseBatchState(const std::string& text) {
  for (BatchState s : kBatchStates) {
    if (text == toString(s)) return s;
  }
  return std::nullopt;
}

std::optional<JobState> parseJobState(const std::string& text) {
  for (JobState s : kJobStates) {
    if (text == toString(s)) return s;
  }
  return std::nullopt;
}

// The numbers are part of the file format: never renumber, only add.
int64_t storedValue(IntakeState state) {
  switch (state) {
    case IntakeState::New: return 0;
    case IntakeState::Routing: return 1;
    case IntakeState::Routed: return 2;
    case IntakeState::RuleFailed: return 3;
  }
  throw RouterError("queue: unknown intake state");
}

int64_t storedValue(JobState state) {
  switch (state) {
    case JobState::Pending: return 0;
    case JobState::Sending: return 1;
    case JobState::Failed: return 2;
    case JobState::Dead: return 3;
    case JobState::Held: return 4;
  }
  throw RouterError("queue: unknown job state");
}

IntakeState intakeStateFromStored(int64_t value) {
  for (IntakeState s : {IntakeState::New, IntakeState::Routing, IntakeState::Routed, IntakeState::RuleFailed}) {
    if (storedValue(s) == value) return s;
  }
  throw RouterError("queue database: intake state " + std::to_string(value) +
                    " is unknown to this release (a corrupt file, or one of a newer release)");
}

JobState jobStateFromStored(int64_t value) {
  for (JobState s : kJobStates) {
    if (storedValue(s) == value) return s;
  }
  throw RouterError("queue database: job state " + std::to_string(value) +
                    " is unknown to this release (a corrupt file, or one of a newer release)");
}

bool isPostgresUri(const std::string& database) {
  return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

std::string describeQueueDatabase(const std::string& database) {
  if (!isPostgresUri(database)) return database;
  std::string out = database;
  // user:password@host
  const size_t scheme = out.find("://");
  const size_t at = out.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ?password=... or &password=...
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::unique_ptr<Queue> openQueue(const std::string& database, const QueueNode& node) {
  if (isPostgresUri(database)) return openPostgresQueue(database, node);
  return openSqliteQueue(database, node);
}

}  // namespace router
