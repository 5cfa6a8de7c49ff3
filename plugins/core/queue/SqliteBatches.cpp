#include "plugins/core/queue/SqliteBatches.h"

#include <algorithm>

#include "plugins/core/Error.h"
#include "plugins/core/queue/StoredForm.h"

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
  sort_key INTEGER NOT NULL,
  series_uid TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS batch_members_batch ON batch_members(batch_id);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch_id);
CREATE TABLE IF NOT EXISTS batch_requirements (
  batch_id INTEGER PRIMARY KEY,
  wanted INTEGER NOT NULL,
  met INTEGER NOT NULL DEFAULT 0,
  series TEXT NOT NULL);
)SQL";

namespace {

int64_t stored(BatchState state) { return stored::value(state); }
BatchState fromStored(int64_t value) { return stored::batchState(value); }
int64_t stored(RouteLevel level) { return stored::value(level); }
RouteLevel levelFromStored(int64_t value) { return stored::level(value); }
int64_t stored(JobState state) { return storedValue(state); }
using stored::fromMs;
using stored::lines;

constexpr const char* kColumns =
    "id, level, uid, study_uid, destination, state, first_at, last_at, released_at, delivered_at, instances, "
    "expected, quiet_ms, max_wait_ms, senders, released_because, late, "
    "(SELECT COUNT(*) FROM jobs WHERE jobs.batch_id=batches.id), "
    "(SELECT series FROM batch_requirements r WHERE r.batch_id=batches.id), "
    "(SELECT met FROM batch_requirements r WHERE r.batch_id=batches.id)";

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
  b.senders = lines(s.text(14));
  b.releasedBecause = s.text(15);
  b.late = s.int64(16) != 0;
  b.jobsLeft = static_cast<int>(s.int64(17));
  if (!s.isNull(18)) {
    const uint64_t met = static_cast<uint64_t>(s.int64(19));
    std::vector<std::string> series = lines(s.text(18));
    for (size_t i = 0; i < series.size(); ++i) {
      (met >> i & 1u ? b.requiredPresent : b.requiredMissing).push_back(std::move(series[i]));
    }
  }
  return b;
}

void addMember(sqlite::Database& db, int64_t batchId, const std::string& instanceId, const std::string& sop,
               int64_t sortKey, const std::string& seriesUid) {
  Statement(db, "INSERT INTO batch_members(batch_id, instance_id, sop_instance_uid, sort_key, series_uid) "
                "VALUES(?1,?2,?3,?4,?5)")
      .bind(1, batchId).bind(2, instanceId).bind(3, sop).bind(4, sortKey).bind(5, seriesUid).run();
}

bool isDecision(const Route& route) { return route.destination == kStudyDecision; }

}  // namespace

void enqueue(sqlite::Database& db, const std::string& instanceId, const RoutedInstance& instance,
             const Route& route, int64_t nowMs) {
  const Completion& c = route.completion;
  const std::string& uid = c.level == RouteLevel::Study ? instance.studyInstanceUid : instance.seriesInstanceUid;
  const int64_t key = stored::sortKey(instance);
  // A study's route_study() decision waits in a batch of members without jobs.
  const bool decision = isDecision(route);
  if (uid.empty()) {  // nothing to group by: sent as an instance
    if (!decision) insertJob(db, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, key, nowMs);
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
    if (earlier != 0 && c.late == LatePolicy::Alone && !decision) {
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
    if (!c.required.empty()) {
      // A late batch continues its study: what the earlier one had counts.
      std::string series;
      for (const Requirement& r : c.required) series += r.describe() + "\n";
      Statement(db, "INSERT INTO batch_requirements(batch_id, wanted, met, series) VALUES(?1, ?2, "
                    "COALESCE((SELECT met FROM batch_requirements WHERE batch_id=?3), 0), ?4)")
          .bind(1, batchId).bind(2, static_cast<int64_t>((uint64_t{1} << c.required.size()) - 1))
          .bind(3, earlier).bind(4, series).run();
    }
    if (earlier != 0 && c.late == LatePolicy::Resend) {
      // The whole series or study again: every earlier member but this one.
      Statement members(db, "SELECT DISTINCT instance_id, sop_instance_uid, sort_key, series_uid FROM batch_members "
                            "WHERE batch_id=?1 AND instance_id<>?2");
      members.bind(1, earlier).bind(2, instanceId);
      int copied = 0;
      while (members.step()) {
        if (!decision) {
          insertJob(db, members.text(0), members.text(1), route, JobState::Held, batchId, members.int64(2), nowMs);
        }
        addMember(db, batchId, members.text(0), members.text(1), members.int64(2), members.text(3));
        ++copied;
      }
      Statement(db, "UPDATE batches SET instances=instances+?1 WHERE id=?2").bind(1, copied).bind(2, batchId).run();
    }
  }
  if (!decision) insertJob(db, instanceId, instance.sopInstanceUid, route, JobState::Held, batchId, key, nowMs);
  addMember(db, batchId, instanceId, instance.sopInstanceUid, key, instance.seriesInstanceUid);
  Statement(db, "UPDATE batches SET instances=instances+1, last_at=?1, expected=MAX(expected, ?2), "
                "senders=CASE WHEN ?3='' OR instr(char(10) || senders || char(10), char(10) || ?3 || char(10))>0 "
                "THEN senders WHEN senders='' THEN ?3 ELSE senders || char(10) || ?3 END WHERE id=?4")
      .bind(1, nowMs).bind(2, c.expected).bind(3, instance.sender).bind(4, batchId).run();
  if (c.requiredMet != 0) {
    Statement(db, "UPDATE batch_requirements SET met=(met | ?1) & wanted WHERE batch_id=?2")
        .bind(1, static_cast<int64_t>(c.requiredMet)).bind(2, batchId).run();
  }
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
    Statement waiting(db, "SELECT id, first_at, last_at, quiet_ms, max_wait_ms, instances, expected, "
                          "COALESCE(r.wanted = r.met, 1), r.batch_id IS NOT NULL FROM batches LEFT JOIN batch_requirements r "
                          "ON r.batch_id=batches.id WHERE state=?1 ORDER BY id");
    waiting.bind(1, stored(BatchState::Waiting));
    while (waiting.step()) {
      stored::WaitingBatch b{waiting.int64(1), waiting.int64(2), waiting.int64(3), waiting.int64(4),
                             waiting.int64(5), waiting.int64(6), waiting.int64(7) != 0, waiting.int64(8) != 0};
      int64_t when = 0;
      if (const char* because = stored::completeBecause(b, nowMs, when)) {
        due.push_back({waiting.int64(0), because});
      } else if (!nextDueMs || when < *nextDueMs) {
        nextDueMs = when;
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

int settle(sqlite::Database& db, int64_t batchId, int64_t nowMs) {
  // A released decision has no jobs: it is done once decided (decide()).
  Statement(db, "UPDATE batches SET state=?1, delivered_at=?2 WHERE state=?3 AND (?4=0 OR id=?4) AND "
                "destination<>?5 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id=batches.id)")
      .bind(1, stored(BatchState::Delivered)).bind(2, nowMs).bind(3, stored(BatchState::Released)).bind(4, batchId)
      .bind(5, std::string(kStudyDecision)).run();
  return db.changes();
}

std::vector<Batch> toDecide(sqlite::Database& db, int limit) {
  Statement s(db, std::string("SELECT ") + kColumns + " FROM batches WHERE destination=?1 AND state=?2 "
                  "ORDER BY id LIMIT ?3");
  s.bind(1, std::string(kStudyDecision)).bind(2, stored(BatchState::Released)).bind(3, limit);
  std::vector<Batch> batches;
  while (s.step()) batches.push_back(read(s));
  return batches;
}

std::vector<BatchSeries> series(sqlite::Database& db, int64_t batchId) {
  // The first member of each series, in series and instance order.
  Statement s(db, "SELECT series_uid, COUNT(*), MIN(sort_key), "
                  "(SELECT instance_id FROM batch_members f WHERE f.batch_id=m.batch_id AND "
                  "f.series_uid=m.series_uid ORDER BY sort_key, rowid LIMIT 1) "
                  "FROM batch_members m WHERE batch_id=?1 GROUP BY series_uid ORDER BY MIN(sort_key) / 1000000, "
                  "series_uid");
  s.bind(1, batchId);
  std::vector<BatchSeries> out;
  while (s.step()) out.push_back({s.text(0), static_cast<int>(s.int64(1)), s.text(3)});
  return out;
}

bool decide(sqlite::Database& db, int64_t batchId, const std::vector<Route>& routes, int64_t nowMs) {
  std::optional<Batch> decision = get(db, batchId);
  if (!decision || decision->destination != kStudyDecision || decision->state != BatchState::Released) return false;
  std::string senders;
  for (const std::string& sender : decision->senders) senders += (senders.empty() ? "" : "\n") + sender;
  for (const Route& route : routes) {
    Statement(db, "INSERT INTO batches(level, uid, study_uid, destination, state, first_at, last_at, released_at, "
                  "quiet_ms, max_wait_ms, senders, released_because, late) "
                  "VALUES(?1,?2,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)")
        .bind(1, stored(RouteLevel::Study)).bind(2, decision->uid).bind(3, route.destination)
        .bind(4, stored(BatchState::Released))
        .bind(5, std::chrono::duration_cast<std::chrono::milliseconds>(decision->firstAt.time_since_epoch()).count())
        .bind(6, std::chrono::duration_cast<std::chrono::milliseconds>(decision->lastAt.time_since_epoch()).count())
        .bind(7, nowMs).bind(8, static_cast<int64_t>(decision->quiet.count()) * 1000)
        .bind(9, static_cast<int64_t>(decision->maxWait.count()) * 1000).bind(10, senders)
        .bind(11, "route_study (" + decision->releasedBecause + ")").bind(12, decision->late ? 1 : 0).run();
    const int64_t id = db.lastInsertId();
    // Series by number, then UID (two series may share a number, or have
    // none), then instance number. The jobs' sort key is their place in
    // that order, so that each series goes whole.
    Statement members(db, "SELECT instance_id, sop_instance_uid, series_uid FROM batch_members WHERE batch_id=?1 "
                          "ORDER BY sort_key / 1000000, series_uid, sort_key, rowid");
    members.bind(1, batchId);
    int count = 0;
    while (members.step()) {
      const std::string seriesUid = members.text(2);
      if (!route.series.empty() && std::find(route.series.begin(), route.series.end(), seriesUid) == route.series.end()) {
        continue;
      }
      insertJob(db, members.text(0), members.text(1), route, JobState::Pending, id, count, nowMs);
      addMember(db, id, members.text(0), members.text(1), count, seriesUid);
      ++count;
    }
    Statement(db, "UPDATE batches SET instances=?1 WHERE id=?2").bind(1, count).bind(2, id).run();
    settle(db, id, nowMs);
  }
  Statement(db, "UPDATE batches SET state=?1, delivered_at=?2 WHERE id=?3")
      .bind(1, stored(BatchState::Delivered)).bind(2, nowMs).bind(3, batchId).run();
  return true;
}

bool holdDecision(sqlite::Database& db, int64_t batchId, const std::string& reason) {
  Statement(db, "UPDATE batches SET state=?1, released_because=?2 WHERE id=?3 AND destination=?4 AND state=?5")
      .bind(1, stored(BatchState::OnHold)).bind(2, reason).bind(3, batchId).bind(4, std::string(kStudyDecision))
      .bind(5, stored(BatchState::Released)).run();
  return db.changes() > 0;
}

int prune(sqlite::Database& db, int64_t beforeMs, int limit) {
  // A cancelled batch has no delivered_at: it ended with its last arrival at
  // the latest. The same oldest ones each time: the set does not change
  // until the last statement.
  const std::string ended = "SELECT id FROM batches WHERE state IN (?1, ?2) AND COALESCE(delivered_at, last_at) < ?3 "
                            "ORDER BY id LIMIT ?4";
  for (const char* table : {"batch_members", "batch_requirements"}) {
    Statement(db, std::string("DELETE FROM ") + table + " WHERE batch_id IN (" + ended + ")")
        .bind(1, stored(BatchState::Delivered)).bind(2, stored(BatchState::Cancelled)).bind(3, beforeMs)
        .bind(4, limit).run();
  }
  Statement(db, "DELETE FROM batches WHERE id IN (" + ended + ")")
      .bind(1, stored(BatchState::Delivered)).bind(2, stored(BatchState::Cancelled)).bind(3, beforeMs).bind(4, limit)
      .run();
  return db.changes();
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
