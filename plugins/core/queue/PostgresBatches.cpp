#include "plugins/core/queue/PostgresBatches.h"

#include <algorithm>

#include "plugins/core/queue/StoredForm.h"

namespace router::pg_batches {

// UIDs sort byte by byte (COLLATE "C"), as in SQLite, whatever the
// database's locale: a locale's collation ignores the dots of a UID.
const char* const kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS batches (
  id BIGSERIAL PRIMARY KEY,
  level BIGINT NOT NULL,
  uid TEXT COLLATE "C" NOT NULL,
  study_uid TEXT COLLATE "C" NOT NULL,
  destination TEXT NOT NULL,
  state BIGINT NOT NULL,
  first_at BIGINT NOT NULL,
  last_at BIGINT NOT NULL,
  released_at BIGINT,
  delivered_at BIGINT,
  instances BIGINT NOT NULL DEFAULT 0,
  expected BIGINT NOT NULL DEFAULT 0,
  quiet_ms BIGINT NOT NULL,
  max_wait_ms BIGINT NOT NULL,
  senders TEXT NOT NULL DEFAULT '',
  released_because TEXT NOT NULL DEFAULT '',
  late BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS batches_key ON batches(level, uid, destination, state);
CREATE INDEX IF NOT EXISTS batches_state ON batches(state, id);
CREATE TABLE IF NOT EXISTS batch_members (
  id BIGSERIAL PRIMARY KEY,
  batch_id BIGINT NOT NULL,
  instance_id TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  sort_key BIGINT NOT NULL,
  series_uid TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS batch_members_batch ON batch_members(batch_id);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch_id);
CREATE TABLE IF NOT EXISTS batch_requirements (
  batch_id BIGINT PRIMARY KEY,
  wanted BIGINT NOT NULL,
  met BIGINT NOT NULL DEFAULT 0,
  series TEXT NOT NULL);
)SQL";

namespace {

using stored::fromMs;
int64_t stored(BatchState state) { return stored::value(state); }
int64_t stored(RouteLevel level) { return stored::value(level); }
int64_t stored(JobState state) { return storedValue(state); }

constexpr const char* kColumns =
    "id, level, uid, study_uid, destination, state, first_at, last_at, released_at, delivered_at, instances, "
    "expected, quiet_ms, max_wait_ms, senders, released_because, late, "
    "(SELECT COUNT(*) FROM jobs WHERE jobs.batch_id=batches.id), "
    "(SELECT series FROM batch_requirements r WHERE r.batch_id=batches.id), "
    "(SELECT met FROM batch_requirements r WHERE r.batch_id=batches.id)";

Batch read(const pg::Result& r, int row) {
  Batch b;
  b.id = r.int64(row, 0);
  b.level = stored::level(r.int64(row, 1));
  b.uid = r.text(row, 2);
  b.studyInstanceUid = r.text(row, 3);
  b.destination = r.text(row, 4);
  b.state = stored::batchState(r.int64(row, 5));
  b.firstAt = fromMs(r.int64(row, 6));
  b.lastAt = fromMs(r.int64(row, 7));
  if (!r.isNull(row, 8)) b.releasedAt = fromMs(r.int64(row, 8));
  if (!r.isNull(row, 9)) b.deliveredAt = fromMs(r.int64(row, 9));
  b.instances = static_cast<int>(r.int64(row, 10));
  b.expected = static_cast<int>(r.int64(row, 11));
  b.quiet = std::chrono::seconds(r.int64(row, 12) / 1000);
  b.maxWait = std::chrono::seconds(r.int64(row, 13) / 1000);
  b.senders = stored::lines(r.text(row, 14));
  b.releasedBecause = r.text(row, 15);
  b.late = r.int64(row, 16) != 0;
  b.jobsLeft = static_cast<int>(r.int64(row, 17));
  if (!r.isNull(row, 18)) {
    const uint64_t met = static_cast<uint64_t>(r.int64(row, 19));
    std::vector<std::string> series = stored::lines(r.text(row, 18));
    for (size_t i = 0; i < series.size(); ++i) {
      (met >> i & 1u ? b.requiredPresent : b.requiredMissing).push_back(std::move(series[i]));
    }
  }
  return b;
}

std::vector<Batch> readAll(const pg::Result& r) {
  std::vector<Batch> batches;
  for (int row = 0; row < r.rows(); ++row) batches.push_back(read(r, row));
  return batches;
}

void addMember(pg::Connection& c, int64_t batchId, const std::string& instanceId, const std::string& sop,
               int64_t sortKey, const std::string& seriesUid) {
  c.exec("INSERT INTO batch_members(batch_id, instance_id, sop_instance_uid, sort_key, series_uid) "
         "VALUES($1,$2,$3,$4,$5)",
         {batchId, instanceId, sop, sortKey, seriesUid});
}

bool isDecision(const Route& route) { return route.destination == kStudyDecision; }

}  // namespace

void lock(pg::Connection& c, int64_t batchId) { c.exec("SELECT 1 FROM batches WHERE id=$1 FOR UPDATE", {batchId}); }

void enqueue(pg::Connection& c, const std::string& instanceId, const RoutedInstance& instance, const Route& route,
             int64_t nowMs) {
  const Completion& cp = route.completion;
  const std::string& uid = cp.level == RouteLevel::Study ? instance.studyInstanceUid : instance.seriesInstanceUid;
  const int64_t key = stored::sortKey(instance);
  const bool decision = isDecision(route);
  if (uid.empty()) {  // nothing to group by: sent as an instance
    if (!decision) insertJob(c, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, key, nowMs);
    return;
  }
  // Instances of one series routed on two nodes at once join one batch.
  c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
         {std::to_string(stored(cp.level)) + "\n" + uid + "\n" + route.destination});
  // The newest batch of this series or study for the destination in one of
  // two states; 0 if none. The open one is locked: a release waiting on it
  // then finds this instance's held job, or this finds it released.
  auto latest = [&](BatchState a, BatchState b, bool forUpdate) -> int64_t {
    pg::Result r = c.exec(std::string("SELECT id FROM batches WHERE level=$1 AND uid=$2 AND destination=$3 AND "
                                      "state IN ($4, $5) ORDER BY id DESC LIMIT 1") +
                              (forUpdate ? " FOR UPDATE" : ""),
                          {stored(cp.level), uid, route.destination, stored(a), stored(b)});
    return r.empty() ? 0 : r.int64(0, 0);
  };
  int64_t batchId = latest(BatchState::Waiting, BatchState::OnHold, true);
  if (batchId == 0) {
    const int64_t earlier = latest(BatchState::Released, BatchState::Delivered, false);  // went already
    if (earlier != 0 && cp.late == LatePolicy::Alone && !decision) {
      insertJob(c, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, key, nowMs);
      return;
    }
    batchId = c.exec("INSERT INTO batches(level, uid, study_uid, destination, state, first_at, last_at, expected, "
                     "quiet_ms, max_wait_ms, late) VALUES($1,$2,$3,$4,$5,$6,$6,$7,$8,$9,$10) RETURNING id",
                     {stored(cp.level), uid, instance.studyInstanceUid, route.destination,
                      stored(BatchState::Waiting), nowMs, cp.expected, static_cast<int64_t>(cp.quiet.count()) * 1000,
                      static_cast<int64_t>(cp.maxWait.count()) * 1000, earlier != 0 ? 1 : 0})
                  .int64(0, 0);
    if (!cp.required.empty()) {
      // A late batch continues its study: what the earlier one had counts.
      std::string series;
      for (const Requirement& r : cp.required) series += r.describe() + "\n";
      c.exec("INSERT INTO batch_requirements(batch_id, wanted, met, series) VALUES($1, $2, "
             "COALESCE((SELECT met FROM batch_requirements WHERE batch_id=$3), 0), $4)",
             {batchId, static_cast<int64_t>((uint64_t{1} << cp.required.size()) - 1), earlier, series});
    }
    if (earlier != 0 && cp.late == LatePolicy::Resend) {
      // The whole series or study again: every earlier member but this one.
      pg::Result members = c.exec("SELECT DISTINCT instance_id, sop_instance_uid, sort_key, series_uid "
                                  "FROM batch_members WHERE batch_id=$1 AND instance_id<>$2",
                                  {earlier, instanceId});
      for (int i = 0; i < members.rows(); ++i) {
        if (!decision) {
          insertJob(c, members.text(i, 0), members.text(i, 1), route, JobState::Held, batchId, members.int64(i, 2),
                    nowMs);
        }
        addMember(c, batchId, members.text(i, 0), members.text(i, 1), members.int64(i, 2), members.text(i, 3));
      }
      c.exec("UPDATE batches SET instances=instances+$1 WHERE id=$2", {members.rows(), batchId});
    }
  }
  if (!decision) insertJob(c, instanceId, instance.sopInstanceUid, route, JobState::Held, batchId, key, nowMs);
  addMember(c, batchId, instanceId, instance.sopInstanceUid, key, instance.seriesInstanceUid);
  c.exec("UPDATE batches SET instances=instances+1, last_at=$1, expected=GREATEST(expected, $2), "
         "senders=CASE WHEN $3::text='' OR position(E'\\n' || $3 || E'\\n' IN E'\\n' || senders || E'\\n')>0 "
         "THEN senders WHEN senders='' THEN $3 ELSE senders || E'\\n' || $3 END WHERE id=$4",
         {nowMs, cp.expected, instance.sender, batchId});
  if (cp.requiredMet != 0) {
    c.exec("UPDATE batch_requirements SET met=(met | $1::bigint) & wanted WHERE batch_id=$2",
           {static_cast<int64_t>(cp.requiredMet), batchId});
  }
}

bool release(pg::Connection& c, int64_t batchId, const std::string& because, int64_t nowMs,
             std::initializer_list<BatchState> from) {
  pg::Result state = c.exec("SELECT state FROM batches WHERE id=$1 FOR UPDATE", {batchId});
  if (state.empty()) return false;
  const BatchState current = stored::batchState(state.int64(0, 0));
  if (std::find(from.begin(), from.end(), current) == from.end()) return false;
  c.exec("UPDATE jobs SET state=$1, next_attempt_at=$2 WHERE batch_id=$3 AND state=$4",
         {stored(JobState::Pending), nowMs, batchId, stored(JobState::Held)});
  c.exec("UPDATE batches SET state=$1, released_at=$2, released_because=$3 WHERE id=$4",
         {stored(BatchState::Released), nowMs, because, batchId});
  settle(c, batchId, nowMs);  // a batch whose jobs are all gone already (purged) is done
  return true;
}

std::vector<Batch> releaseDue(pg::Connection& c, int64_t nowMs, std::optional<int64_t>& nextDueMs) {
  struct Due {
    int64_t id;
    std::string because;
  };
  std::vector<Due> due;
  nextDueMs.reset();
  // Locked (in id order, so two nodes never deadlock): an instance joining
  // one of them meanwhile waits, and is judged with it next time.
  pg::Result waiting = c.exec(
      "SELECT b.id, first_at, last_at, quiet_ms, max_wait_ms, instances, expected, "
      "CASE WHEN r.batch_id IS NULL OR r.wanted = r.met THEN 1 ELSE 0 END, "
      "CASE WHEN r.batch_id IS NOT NULL THEN 1 ELSE 0 END "
      "FROM batches b LEFT JOIN batch_requirements r ON r.batch_id=b.id WHERE state=$1 ORDER BY b.id FOR UPDATE OF b",
      {stored(BatchState::Waiting)});
  for (int i = 0; i < waiting.rows(); ++i) {
    stored::WaitingBatch b{waiting.int64(i, 1), waiting.int64(i, 2), waiting.int64(i, 3), waiting.int64(i, 4),
                           waiting.int64(i, 5), waiting.int64(i, 6), waiting.int64(i, 7) != 0,
                           waiting.int64(i, 8) != 0};
    int64_t when = 0;
    if (const char* because = stored::completeBecause(b, nowMs, when)) {
      due.push_back({waiting.int64(i, 0), because});
    } else if (!nextDueMs || when < *nextDueMs) {
      nextDueMs = when;
    }
  }
  std::vector<Batch> released;
  for (const Due& d : due) {
    if (release(c, d.id, d.because, nowMs, {BatchState::Waiting})) {
      if (std::optional<Batch> b = get(c, d.id)) released.push_back(std::move(*b));
    }
  }
  return released;
}

bool setState(pg::Connection& c, int64_t batchId, BatchState from, BatchState to) {
  return c.exec("UPDATE batches SET state=$1 WHERE id=$2 AND state=$3", {stored(to), batchId, stored(from)})
             .affected() > 0;
}

bool cancel(pg::Connection& c, int64_t batchId) {
  if (c.exec("UPDATE batches SET state=$1 WHERE id=$2 AND state IN ($3, $4)",
             {stored(BatchState::Cancelled), batchId, stored(BatchState::Waiting), stored(BatchState::OnHold)})
          .affected() == 0) {
    return false;
  }
  c.exec("DELETE FROM jobs WHERE batch_id=$1 AND state=$2", {batchId, stored(JobState::Held)});
  return true;
}

int settle(pg::Connection& c, int64_t batchId, int64_t nowMs) {
  // A released decision has no jobs: it is done once decided (decide()).
  return c.exec("UPDATE batches SET state=$1, delivered_at=$2 WHERE state=$3 AND ($4::bigint=0 OR id=$4) AND "
                "destination<>$5 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.batch_id=batches.id)",
                {stored(BatchState::Delivered), nowMs, stored(BatchState::Released), batchId,
                 std::string(kStudyDecision)})
      .affected();
}

std::vector<Batch> toDecide(pg::Connection& c, int limit) {
  return readAll(c.exec(std::string("SELECT ") + kColumns +
                            " FROM batches WHERE destination=$1 AND state=$2 ORDER BY id LIMIT $3",
                        {std::string(kStudyDecision), stored(BatchState::Released), limit}));
}

std::vector<BatchSeries> series(pg::Connection& c, int64_t batchId) {
  // The first member of each series, in series and instance order.
  pg::Result r = c.exec("SELECT series_uid, COUNT(*), MIN(sort_key), "
                        "(SELECT instance_id FROM batch_members f WHERE f.batch_id=$1 AND "
                        "f.series_uid=m.series_uid ORDER BY sort_key, id LIMIT 1) "
                        "FROM batch_members m WHERE batch_id=$1 GROUP BY series_uid "
                        "ORDER BY MIN(sort_key) / 1000000, series_uid",
                        {batchId});
  std::vector<BatchSeries> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), static_cast<int>(r.int64(i, 1)), r.text(i, 3)});
  return out;
}

bool decide(pg::Connection& c, int64_t batchId, const std::vector<Route>& routes, int64_t nowMs) {
  lock(c, batchId);  // two nodes deciding one study: the second finds it decided
  std::optional<Batch> decision = get(c, batchId);
  if (!decision || decision->destination != kStudyDecision || decision->state != BatchState::Released) return false;
  std::string senders;
  for (const std::string& sender : decision->senders) senders += (senders.empty() ? "" : "\n") + sender;
  // Series by number, then UID, then instance number (see SqliteBatches.cpp).
  pg::Result members = c.exec("SELECT instance_id, sop_instance_uid, series_uid FROM batch_members WHERE batch_id=$1 "
                              "ORDER BY sort_key / 1000000, series_uid, sort_key, id",
                              {batchId});
  for (const Route& route : routes) {
    const int64_t id =
        c.exec("INSERT INTO batches(level, uid, study_uid, destination, state, first_at, last_at, released_at, "
               "quiet_ms, max_wait_ms, senders, released_because, late) "
               "VALUES($1,$2,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING id",
               {stored(RouteLevel::Study), decision->uid, route.destination, stored(BatchState::Released),
                stored::toMs(decision->firstAt), stored::toMs(decision->lastAt), nowMs,
                static_cast<int64_t>(decision->quiet.count()) * 1000,
                static_cast<int64_t>(decision->maxWait.count()) * 1000, senders,
                "route_study (" + decision->releasedBecause + ")", decision->late ? 1 : 0})
            .int64(0, 0);
    int count = 0;
    for (int i = 0; i < members.rows(); ++i) {
      const std::string seriesUid = members.text(i, 2);
      if (!route.series.empty() && std::find(route.series.begin(), route.series.end(), seriesUid) == route.series.end()) {
        continue;
      }
      insertJob(c, members.text(i, 0), members.text(i, 1), route, JobState::Pending, id, count, nowMs);
      addMember(c, id, members.text(i, 0), members.text(i, 1), count, seriesUid);
      ++count;
    }
    c.exec("UPDATE batches SET instances=$1 WHERE id=$2", {count, id});
    settle(c, id, nowMs);
  }
  c.exec("UPDATE batches SET state=$1, delivered_at=$2 WHERE id=$3", {stored(BatchState::Delivered), nowMs, batchId});
  return true;
}

bool holdDecision(pg::Connection& c, int64_t batchId, const std::string& reason) {
  return c.exec("UPDATE batches SET state=$1, released_because=$2 WHERE id=$3 AND destination=$4 AND state=$5",
                {stored(BatchState::OnHold), reason, batchId, std::string(kStudyDecision),
                 stored(BatchState::Released)})
             .affected() > 0;
}

int prune(pg::Connection& c, int64_t beforeMs, int limit) {
  // As in SqliteBatches.cpp: a cancelled batch ended with its last arrival
  // at the latest. The ended ones are locked first, so that the three
  // deletions take the same batches whatever another node prunes meanwhile.
  pg::Result ended = c.exec("SELECT id FROM batches WHERE state IN ($1, $2) AND COALESCE(delivered_at, last_at) < $3 "
                            "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED",
                            {stored(BatchState::Delivered), stored(BatchState::Cancelled), beforeMs, limit});
  if (ended.empty()) return 0;
  std::vector<int64_t> ids;
  for (int i = 0; i < ended.rows(); ++i) ids.push_back(ended.int64(i, 0));
  const std::string list = pg::intArray(ids);
  c.exec("DELETE FROM batch_members WHERE batch_id = ANY($1::bigint[])", {list});
  c.exec("DELETE FROM batch_requirements WHERE batch_id = ANY($1::bigint[])", {list});
  return c.exec("DELETE FROM batches WHERE id = ANY($1::bigint[])", {list}).affected();
}

std::optional<Batch> get(pg::Connection& c, int64_t batchId) {
  pg::Result r = c.exec(std::string("SELECT ") + kColumns + " FROM batches WHERE id=$1", {batchId});
  if (r.empty()) return std::nullopt;
  return read(r, 0);
}

std::vector<Batch> list(pg::Connection& c, std::optional<BatchState> state, int limit) {
  return readAll(c.exec(std::string("SELECT ") + kColumns +
                            " FROM batches WHERE ($1::bigint<0 OR state=$1) ORDER BY id DESC LIMIT $2",
                        {state ? stored(*state) : int64_t{-1}, limit}));
}

void countInto(pg::Connection& c, QueueDepth& depth) {
  pg::Result r = c.exec("SELECT destination, state, COUNT(*) FROM batches WHERE state IN ($1, $2, $3) "
                        "GROUP BY destination, state",
                        {stored(BatchState::Waiting), stored(BatchState::OnHold), stored(BatchState::Released)});
  for (int i = 0; i < r.rows(); ++i) depth.batches[r.text(i, 0)][stored::batchState(r.int64(i, 1))] = r.int64(i, 2);
}

}  // namespace router::pg_batches
