#include "plugins/core/queue/SqliteBatches.h"

#include <algorithm>

#include "plugins/core/Error.h"

namespace router::sqlite_batches {

using sqlite::Statement;

const char* const kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  level INTEGER NOT NULL,
  uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  destination TEXT NOT NULL,
  state INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  released_at INTEGER,
  delivered_at INTEGER,
  instances INTEGER NOT NULL DEFAULT 0,
  expected INTEGER NOT NULL DEFAULT 0,
  quiet_ms INTEGER NOT NULL,
  max_wait_ms INTEGER NOT NULL,
  senders TEXT NOT NULL DEFAULT '',
  released_because TEXT NOT NULL DEFAULT '',
  late INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS batches_key ON batches(level, uid, destination, state);
CREATE INDEX IF NOT EXISTS batches_state ON batches(state, id);
CREATE TABLE IF NOT EXISTS batch_members (
  batch_id INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  sort_key INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS batch_members_batch ON batch_members(batch_id);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch_id);
)SQL";

namespace {

// The numbers are part of the file format: never renumber, only add.
int64_t stored(BatchState state) {
  switch (state) {
    case BatchState::Waiting: return 0;
    case BatchState::OnHold: return 1;
    case BatchState::Released: return 2;
    case BatchState::Delivered: return 3;
    case BatchState::Cancelled: return 4;
  }
  throw RouterError("queue: unknown batch state");
}

BatchState fromStored(int64_t value) {
  for (BatchState s : kBatchStates) {
    if (stored(s) == value) return s;
  }
  throw RouterError("queue database: batch state " + std::to_string(value) + " is unknown to this release");
}

int64_t stored(RouteLevel level) { return level == RouteLevel::Study ? 2 : 1; }
RouteLevel levelFromStored(int64_t value) { return value == 2 ? RouteLevel::Study : RouteLevel::Series; }
int64_t stored(JobState state) { return storedValue(state); }

Clock::time_point fromMs(int64_t ms) { return Clock::time_point(std::chrono::milliseconds(ms)); }

constexpr const char* kColumns =
    "id, level, uid, study_uid, destination, state, first_at, last_at, released_at, delivered_at, instances, "
    "expected, quiet_ms, max_wait_ms, senders, released_because, late, "
    "(SELECT COUNT(*) FROM jobs WHERE jobs.batch_id=batches.id)";

Batch read(Statement& s) {
  Batch b;
  b.id = s.int64(0);
  b.level = levelFromStored(s.int64(1));
  b.uid = s.text(2);
  b.studyInstanceUid = s.text(3);
  b.destination = s.text(4);
  b.state = fromStored(s.int64(5));
  b.firstAt = fromMs(s.int64(6));
  b.lastAt = fromMs(s.int64(7));
  if (!s.isNull(8)) b.releasedAt = fromMs(s.int64(8));
  if (!s.isNull(9)) b.deliveredAt = fromMs(s.int64(9));
  b.instances = static_cast<int>(s.int64(10));
  b.expected = static_cast<int>(s.int64(11));
  b.quiet = std::chrono::seconds(s.int64(12) / 1000);
  b.maxWait = std::chrono::seconds(s.int64(13) / 1000);
  const std::string senders = s.text(14);
  for (size_t at = 0; at < senders.size();) {
    size_t end = senders.find('\n', at);
    if (end == std::string::npos) end = senders.size();
    if (end > at) b.senders.push_back(senders.substr(at, end - at));
    at = end + 1;
  }
  b.releasedBecause = s.text(15);
  b.late = s.int64(16) != 0;
  b.jobsLeft = static_cast<int>(s.int64(17));
  return b;
}

void addMember(sqlite::Database& db, int64_t batchId, const std::string& instanceId, const std::string& sop,
               int64_t sortKey) {
  Statement(db, "INSERT INTO batch_members(batch_id, instance_id, sop_instance_uid, sort_key) VALUES(?1,?2,?3,?4)")
      .bind(1, batchId).bind(2, instanceId).bind(3, sop).bind(4, sortKey).run();
}

}  // namespace

int64_t sortKey(const RoutedInstance& instance) {
  const int64_t series = std::clamp(instance.seriesNumber, 0, 99999);
  const int64_t number = std::clamp(instance.instanceNumber, 0, 999999);
  return series * 1000000 + number;
}

void enqueue(sqlite::Database& db, const std::string& instanceId, const RoutedInstance& instance,
             const Route& route, int64_t nowMs) {
  const Completion& c = route.completion;
  const std::string& uid = c.level == RouteLevel::Study ? instance.studyInstanceUid : instance.seriesInstanceUid;
  const int64_t key = sortKey(instance);
  if (uid.empty()) {  // nothing to group by: sent as an instance
    insertJob(db, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, key, nowMs);
    return;
  }
  // The newest batch of this series or study for the destination in one of two states; 0 if none.
  auto latest = [&](BatchState a, BatchState b) -> int64_t {
    Statement s(db, "SELECT id FROM batches WHERE level=?1 AND uid=?2 AND destination=?3 AND state IN (?4, ?5) "
                    "ORDER BY id DESC LIMIT 1");
    s.bind(1, stored(c.level)).bind(2, uid).bind(3, route.destination).bind(4, stored(a)).bind(5, stored(b));
    return s.step() ? s.int64(0) : 0;
  };
  int64_t batchId = latest(BatchState::Waiting, BatchState::OnHold);
  if (batchId == 0) {
    const int64_t earlier = latest(BatchState::Released, BatchState::Delivered);  // went already
    if (earlier != 0 && c.late == LatePolicy::Alone) {
      insertJob(db, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, key, nowMs);
      return;
    }
    Statement(db, "INSERT INTO batches(level, uid, study_uid, destination, state, first_at, last_at, expected, "
                  "quiet_ms, max_wait_ms, late) VALUES(?1,?2,?3,?4,?5,?6,?6,?7,?8,?9,?10)")
        .bind(1, stored(c.level)).bind(2, uid).bind(3, instance.studyInstanceUid).bind(4, route.destination)
        .bind(5, stored(BatchState::Waiting)).bind(6, nowMs).bind(7, c.expected)
        .bind(8, static_cast<int64_t>(c.quiet.count()) * 1000).bind(9, static_cast<int64_t>(c.maxWait.count()) * 1000)
        .bind(10, earlier != 0 ? 1 : 0).run();
    batchId = db.lastInsertId();
    if (earlier != 0 && c.late == LatePolicy::Resend) {
      // The whole series or study again: every earlier member but this one.
      Statement members(db, "SELECT DISTINCT instance_id, sop_instance_uid, sort_key FROM batch_members "
                            "WHERE batch_id=?1 AND instance_id<>?2");
      members.bind(1, earlier).bind(2, instanceId);
      int copied = 0;
      while (members.step()) {
        insertJob(db, members.text(0), members.text(1), route, JobState::Held, batchId, members.int64(2), nowMs);
        addMember(db, batchId, members.text(0), members.text(1), members.int64(2));
        ++copied;
      }
      Statement(db, "UPDATE batches SET instances=instances+?1 WHERE id=?2").bind(1, copied).bind(2, batchId).run();
    }
  }
  insertJob(db, instanceId, instance.sopInstanceUid, route, JobState::Held, batchId, key, nowMs);
  addMember(db, batchId, instanceId, instance.sopInstanceUid, key);
  Statement(db, "UPDATE batches SET instances=instances+1, last_at=?1, expected=MAX(expected, ?2), "
                "senders=CASE WHEN ?3='' OR instr(char(10) || senders || char(10), char(10) || ?3 || char(10))>0 "
                "THEN senders WHEN senders='' THEN ?3 ELSE senders || char(10) || ?3 END WHERE id=?4")
      .bind(1, nowMs).bind(2, c.expected).bind(3, instance.sender).bind(4, batchId).run();
}

bool release(sqlite::Database& db, int64_t batchId, const std::string& because, int64_t nowMs,
             std::initializer_list<BatchState> from) {
  bool applies = false;
  {
    Statement state(db, "SELECT state FROM batches WHERE id=?1");
    if (!state.bind(1, batchId).step()) return false;
    const BatchState current = fromStored(state.int64(0));
    applies = std::find(from.begin(), from.end(), current) != from.end();
  }
  if (!applies) return false;
  Statement(db, "UPDATE jobs SET state=?1, next_attempt_at=?2 WHERE batch_id=?3 AND state=?4")
      .bind(1, stored(JobState::Pending)).bind(2, nowMs).bind(3, batchId).bind(4, stored(JobState::Held)).run();
  Statement(db, "UPDATE batches SET state=?1, released_at=?2, released_because=?3 WHERE id=?4")
      .bind(1, stored(BatchState::Released)).bind(2, nowMs).bind(3, because).bind(4, batchId).run();
  settle(db, batchId, nowMs);  // a batch whose jobs are all gone already (purged) is done
  return true;
}

std::vector<Batch> releaseDue(sqlite::Database& db, int64_t nowMs, std::optional<int64_t>& nextDueMs) {
  struct Due {
    int64_t id;
    std::string because;
  };
  std::vector<Due> due;
  nextDueMs.reset();
  {
    Statement waiting(db, "SELECT id, first_at, last_at, quiet_ms, max_wait_ms, instances, expected FROM batches "
                          "WHERE state=?1 ORDER BY id");
    waiting.bind(1, stored(BatchState::Waiting));
    while (waiting.step()) {
      const int64_t first = waiting.int64(1), last = waiting.int64(2), quiet = waiting.int64(3),
                    maxWait = waiting.int64(4), instances = waiting.int64(5), expected = waiting.int64(6);
      if (expected > 0 && instances >= expected) {
        due.push_back({waiting.int64(0), "expected count"});
      } else if (nowMs >= last + quiet) {
        due.push_back({waiting.int64(0), "quiet time"});
      } else if (nowMs >= first + maxWait) {
        due.push_back({waiting.int64(0), "maximum wait"});
      } else {
        const int64_t when = std::min(last + quiet, first + maxWait);
        if (!nextDueMs || when < *nextDueMs) nextDueMs = when;
      }
    }
  }
  std::vector<Batch> released;
  for (const Due& d : due) {
    if (release(db, d.id, d.because, nowMs, {BatchState::Waiting})) {
      if (std::optional<Batch> b = get(db, d.id)) released.push_back(std::move(*b));
    }
  }
  return released;
}

bool setState(sqlite::Database& db, int64_t batchId, BatchState from, BatchState to) {
  Statement(db, "UPDATE batches SET state=?1 WHERE id=?2 AND state=?3")
      .bind(1, stored(to)).bind(2, batchId).bind(3, stored(from)).run();
  return db.changes() > 0;
}

bool cancel(sqlite::Database& db, int64_t batchId) {
  Statement(db, "UPDATE batches SET state=?1 WHERE id=?2 AND state IN (?3, ?4)")
      .bind(1, stored(BatchState::Cancelled)).bind(2, batchId)
      .bind(3, stored(BatchState::Waiting)).bind(4, stored(BatchState::OnHold)).run();
  if (db.changes() == 0) return false;
  Statement(db, "DELETE FROM jobs WHERE batch_id=?1 AND state=?2").bind(1, batchId).bind(2, stored(JobState::Held)).run();
  return true;
}

void settle(sqlite::Database& db, int64_t batchId, int64_t nowMs) {
  Statement(db, "UPDATE batches SET state=?1, delivered_at=?2 WHERE state=?3 AND (?4=0 OR id=?4) AND "
                "NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id=batches.id)")
      .bind(1, stored(BatchState::Delivered)).bind(2, nowMs).bind(3, stored(BatchState::Released)).bind(4, batchId)
      .run();
}

std::optional<Batch> get(sqlite::Database& db, int64_t batchId) {
  Statement s(db, std::string("SELECT ") + kColumns + " FROM batches WHERE id=?1");
  if (!s.bind(1, batchId).step()) return std::nullopt;
  return read(s);
}

std::vector<Batch> list(sqlite::Database& db, std::optional<BatchState> state, int limit) {
  Statement s(db, std::string("SELECT ") + kColumns + " FROM batches WHERE (?1<0 OR state=?1) ORDER BY id DESC LIMIT ?2");
  s.bind(1, state ? stored(*state) : int64_t{-1}).bind(2, limit);
  std::vector<Batch> batches;
  while (s.step()) batches.push_back(read(s));
  return batches;
}

void countInto(sqlite::Database& db, QueueDepth& depth) {
  Statement s(db, "SELECT destination, state, COUNT(*) FROM batches WHERE state IN (?1, ?2, ?3) "
                  "GROUP BY destination, state");
  s.bind(1, stored(BatchState::Waiting)).bind(2, stored(BatchState::OnHold)).bind(3, stored(BatchState::Released));
  while (s.step()) depth.batches[s.text(0)][fromStored(s.int64(1))] = s.int64(2);
}

}  // namespace router::sqlite_batches
