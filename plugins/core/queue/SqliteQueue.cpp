// The embedded queue: one SQLite database in WAL mode (see the constructor
// for what survives a kill -9 and a power loss). One
// connection, serialised by a mutex: every call is one short transaction and
// nothing slow (network, transcoding) ever happens while it is held.
#include <algorithm>
#include <mutex>

#include "plugins/core/Error.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/queue/SearchKeys.h"
#include "plugins/core/queue/Sqlite.h"
#include "plugins/core/queue/SqliteBatches.h"
#include "plugins/core/queue/SqlitePseudonyms.h"
#include "plugins/core/queue/StoredForm.h"

namespace router {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intake (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  change_seq INTEGER NOT NULL UNIQUE,
  instance_id TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL,
  interrupted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS intake_state ON intake(state, id);
CREATE INDEX IF NOT EXISTS intake_instance ON intake(instance_id);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  destination TEXT NOT NULL,
  transfer_syntax TEXT NOT NULL,
  modify TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  interrupted INTEGER NOT NULL DEFAULT 0,
  batch_id INTEGER NOT NULL DEFAULT 0,
  sort_key INTEGER NOT NULL DEFAULT 0,
  urgent INTEGER NOT NULL DEFAULT 0,
  deidentify TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS jobs_next ON jobs(destination, state, priority DESC, batch_id, sort_key, id);
CREATE INDEX IF NOT EXISTS jobs_instance ON jobs(instance_id);
CREATE TABLE IF NOT EXISTS instance_keys (
  key TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  PRIMARY KEY (key, instance_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instance_keys_instance ON instance_keys(instance_id);
)SQL";

// PRAGMA user_version of a queue this release writes. Version 0 is the
// first release's file (no version set); each step below upgrades by one.
constexpr int kSchemaVersion = 3;
// Version 0 -> 1: how many times in a row the process stopped while an
// intake item or a job was in flight (poison-instance quarantine).
constexpr const char* kMigrateTo1 = R"SQL(
ALTER TABLE intake ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
)SQL";
// Version 1 -> 2: series and study batches (SqliteBatches.cpp makes their
// tables); a job's batch (0: none) and its place in it, in the claim order;
// urgent jobs, which go outside the destination's delivery windows.
constexpr const char* kMigrateTo2 = R"SQL(
ALTER TABLE jobs ADD COLUMN batch_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN sort_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS jobs_due;
)SQL";
// Version 2 -> 3: a job's de-identification (the route's deidentify, JSON;
// '' for none); SqlitePseudonyms.cpp makes the mapping table.
constexpr const char* kMigrateTo3 = R"SQL(
ALTER TABLE jobs ADD COLUMN deidentify TEXT NOT NULL DEFAULT '';
)SQL";

using stored::kQuarantineAfter;

using stored::decodeDeidentify;
using stored::decodeEdits;
using stored::encodeDeidentify;
using stored::encodeEdits;
using stored::fromMs;
using stored::nowMs;
using stored::toMs;

constexpr const char* kJobColumns =
    "id, instance_id, sop_instance_uid, destination, transfer_syntax, modify, priority, state, "
    "attempts, created_at, next_attempt_at, last_error, urgent, deidentify";

Job readJob(Statement& s) {
  Job job;
  job.id = s.int64(0);
  job.instanceId = s.text(1);
  job.sopInstanceUid = s.text(2);
  job.route.destination = s.text(3);
  job.route.transferSyntax = s.text(4);
  job.route.modify = decodeEdits(s.text(5));
  job.route.priority = static_cast<int>(s.int64(6));
  job.state = jobStateFromStored(s.int64(7));
  job.attempts = static_cast<int>(s.int64(8));
  job.createdAt = fromMs(s.int64(9));
  job.nextAttemptAt = fromMs(s.int64(10));
  job.lastError = s.text(11);
  job.route.urgent = s.int64(12) != 0;
  job.route.deidentify = decodeDeidentify(s.text(13));
  return job;
}

IntakeItem readIntake(Statement& s) {
  IntakeItem item;
  item.id = s.int64(0);
  item.changeSeq = s.int64(1);
  item.instanceId = s.text(2);
  item.state = intakeStateFromStored(s.int64(3));
  item.error = s.text(4);
  item.attempts = static_cast<int>(s.int64(5));
  return item;
}

int64_t asInt(JobState s) { return storedValue(s); }
int64_t asInt(IntakeState s) { return storedValue(s); }

class SqliteQueue : public Queue {
 public:
  SqliteQueue(const std::string& path, QueueNode node)
      : node_(std::move(node)), startedAt_(Clock::now()), lastBeat_(startedAt_), db_(path) {
    // WAL lets readers go on during a commit. NORMAL does not sync the WAL
    // on every commit: a commit survives a kill -9 at once (it is in the
    // file), and a power loss can only take back the newest commits, in
    // order. That loses no job: the last change sequence goes back with
    // them, so those instances are taken in again from Orthanc's changes
    // log; a claim taken back is claimed again; a completion taken back
    // means a second send (at-least-once). The one commit that must not
    // go back, a completion before the instance is deleted from Orthanc,
    // is synced by flush().
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec("PRAGMA foreign_keys=ON");
    migrate();
  }

  Recovery recover() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    Recovery r;
    Statement(db_, "UPDATE intake SET interrupted=interrupted+1 WHERE state=?1")
        .bind(1, asInt(IntakeState::Routing)).run();
    Statement(db_, "UPDATE intake SET state=?1, error=?2 WHERE state=?3 AND interrupted>=?4")
        .bind(1, asInt(IntakeState::RuleFailed))
        .bind(2, stored::quarantinedRouting())
        .bind(3, asInt(IntakeState::Routing)).bind(4, kQuarantineAfter).run();
    r.quarantinedIntake = db_.changes();
    Statement(db_, "UPDATE intake SET state=?1 WHERE state=?2")
        .bind(1, asInt(IntakeState::New)).bind(2, asInt(IntakeState::Routing)).run();
    r.requeued = db_.changes();

    Statement(db_, "UPDATE jobs SET interrupted=interrupted+1 WHERE state=?1").bind(1, asInt(JobState::Sending)).run();
    Statement(db_, "UPDATE jobs SET state=?1, last_error=?2 || last_error WHERE state=?3 AND interrupted>=?4")
        .bind(1, asInt(JobState::Dead))
        .bind(2, stored::quarantinedDelivery())
        .bind(3, asInt(JobState::Sending)).bind(4, kQuarantineAfter).run();
    r.quarantinedJobs = db_.changes();
    Statement(db_, "UPDATE jobs SET state=?1 WHERE state=?2")
        .bind(1, asInt(JobState::Pending)).bind(2, asInt(JobState::Sending)).run();
    r.requeued += db_.changes();
    tx.commit();
    return r;
  }

  // One process has the file: its claims need no lease.
  Heartbeat heartbeat(Clock::time_point now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    lastBeat_ = now;
    return {};
  }

  std::vector<NodeState> nodes(Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mutex_);
    NodeState n;
    n.name = node_.name;
    n.startedAt = startedAt_;
    n.lastHeartbeat = lastBeat_;
    n.lease = node_.lease;
    Statement intake(db_, "SELECT COUNT(*) FROM intake WHERE state=?1");
    intake.bind(1, asInt(IntakeState::Routing)).step();
    n.intakeHeld = intake.int64(0);
    Statement jobs(db_, "SELECT COUNT(*) FROM jobs WHERE state=?1");
    jobs.bind(1, asInt(JobState::Sending)).step();
    n.jobsHeld = jobs.int64(0);
    return {n};
  }

  std::optional<int64_t> lastChangeSeq() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT value FROM meta WHERE key='last_change_seq'");
    if (!s.step()) return std::nullopt;
    return std::stoll(s.text(0));
  }

  int recordChanges(const std::vector<Change>& changes, int64_t lastSeq, bool skipKnownInstances) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    int added = 0;
    int64_t now = nowMs();
    for (const Change& change : changes) {
      if (skipKnownInstances) {
        Statement known(db_, "SELECT 1 FROM intake WHERE instance_id=?1 LIMIT 1");
        if (known.bind(1, change.instanceId).step()) continue;
      }
      Statement insert(db_,
                       "INSERT OR IGNORE INTO intake(change_seq, instance_id, state, received_at) "
                       "VALUES(?1, ?2, ?3, ?4)");
      insert.bind(1, change.seq).bind(2, change.instanceId).bind(3, asInt(IntakeState::New)).bind(4, now).run();
      added += db_.changes();
    }
    Statement(db_, "INSERT INTO meta(key, value) VALUES('last_change_seq', ?1) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value")
        .bind(1, std::to_string(lastSeq)).run();
    tx.commit();
    return added;
  }

  std::optional<IntakeItem> claimIntake() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    Statement s(db_, "SELECT id, change_seq, instance_id, state, error, attempts FROM intake "
                     "WHERE state=?1 ORDER BY id LIMIT 1");
    if (!s.bind(1, asInt(IntakeState::New)).step()) return std::nullopt;
    IntakeItem item = readIntake(s);
    Statement(db_, "UPDATE intake SET state=?1, attempts=attempts+1 WHERE id=?2")
        .bind(1, asInt(IntakeState::Routing)).bind(2, item.id).run();
    tx.commit();
    item.state = IntakeState::Routing;
    item.attempts += 1;
    return item;
  }

  void finishRouting(int64_t intakeId, const RoutedInstance& instance, const std::vector<Route>& routes) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    Statement current(db_, "SELECT instance_id FROM intake WHERE id=?1");
    if (!current.bind(1, intakeId).step()) return;  // purged meanwhile
    std::string instanceId = current.text(0);
    int64_t now = nowMs();
    for (const Route& route : routes) {
      if (route.completion.level == RouteLevel::Instance) {
        sqlite_batches::insertJob(db_, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, 0, now);
      } else {
        sqlite_batches::enqueue(db_, instanceId, instance, route, now);
      }
    }
    if (!routes.empty()) {
      for (const std::string& key : instance.searchKeys) {
        Statement(db_, "INSERT OR IGNORE INTO instance_keys(key, instance_id) VALUES(?1, ?2)")
            .bind(1, key).bind(2, instanceId).run();
      }
    }
    Statement(db_, "UPDATE intake SET state=?1, error='' WHERE id=?2")
        .bind(1, asInt(IntakeState::Routed)).bind(2, intakeId).run();
    tx.commit();
  }

  std::vector<Batch> studiesToDecide(int limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::toDecide(db_, limit);
  }

  std::vector<BatchSeries> batchSeries(int64_t batchId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::series(db_, batchId);
  }

  bool decideStudy(int64_t batchId, const std::vector<Route>& routes, Clock::time_point now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    const bool done = sqlite_batches::decide(db_, batchId, routes, toMs(now));
    tx.commit();
    return done;
  }

  bool holdStudyDecision(int64_t batchId, const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::holdDecision(db_, batchId, reason);
  }

  void failRouting(int64_t intakeId, const std::string& error) override {
    setIntake(intakeId, IntakeState::RuleFailed, error);
  }

  void postponeRouting(int64_t intakeId, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE intake SET state=?1, error=?2, interrupted=0 WHERE id=?3 AND state=?4")
        .bind(1, asInt(IntakeState::New)).bind(2, error).bind(3, intakeId).bind(4, asInt(IntakeState::Routing))
        .run();
  }

  int rerouteFailed() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE intake SET state=?1, attempts=0, interrupted=0 WHERE state=?2")
        .bind(1, asInt(IntakeState::New)).bind(2, asInt(IntakeState::RuleFailed)).run();
    return db_.changes();
  }

  std::vector<IntakeItem> listIntake(IntakeState state, int limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT id, change_seq, instance_id, state, error, attempts FROM intake "
                     "WHERE state=?1 ORDER BY id LIMIT ?2");
    s.bind(1, asInt(state)).bind(2, limit);
    std::vector<IntakeItem> items;
    while (s.step()) items.push_back(readIntake(s));
    return items;
  }

  std::optional<Job> claimJob(const std::string& destination, bool urgentOnly) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    Statement s(db_, (std::string("SELECT ") + kJobColumns +
                      " FROM jobs WHERE destination=?1 AND (state=?2 OR (state=?3 AND next_attempt_at<=?4)) "
                      "AND (?5=0 OR urgent=1) ORDER BY priority DESC, batch_id, sort_key, id LIMIT 1").c_str());
    s.bind(1, destination).bind(2, asInt(JobState::Pending)).bind(3, asInt(JobState::Failed)).bind(4, nowMs())
        .bind(5, urgentOnly ? 1 : 0);
    if (!s.step()) return std::nullopt;
    Job job = readJob(s);
    Statement(db_, "UPDATE jobs SET state=?1, attempts=attempts+1 WHERE id=?2")
        .bind(1, asInt(JobState::Sending)).bind(2, job.id).run();
    tx.commit();
    job.state = JobState::Sending;
    job.attempts += 1;
    return job;
  }

  std::optional<Clock::time_point> nextRetry(const std::string& destination) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT MIN(next_attempt_at) FROM jobs WHERE destination=?1 AND state=?2");
    s.bind(1, destination).bind(2, asInt(JobState::Failed));
    if (!s.step() || s.isNull(0)) return std::nullopt;
    return fromMs(s.int64(0));
  }

  InstanceLeft completeJob(int64_t jobId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    InstanceLeft left;
    Statement find(db_, "SELECT instance_id, batch_id FROM jobs WHERE id=?1");
    if (!find.bind(1, jobId).step()) {
      left.jobs = 1;  // purged meanwhile: say nothing about its instance
      return left;
    }
    std::string instanceId = find.text(0);
    const int64_t batchId = find.int64(1);
    Statement(db_, "DELETE FROM jobs WHERE id=?1").bind(1, jobId).run();
    if (batchId != 0 && sqlite_batches::settle(db_, batchId, nowMs()) > 0) {
      left.batchDelivered = sqlite_batches::get(db_, batchId);
    }
    Statement rest(db_, "SELECT destination, state FROM jobs WHERE instance_id=?1");
    rest.bind(1, instanceId);
    while (rest.step()) {
      ++left.jobs;
      std::string destination = rest.text(0);
      if (rest.int64(1) != asInt(JobState::Dead) &&
          std::find(left.waitingFor.begin(), left.waitingFor.end(), destination) == left.waitingFor.end()) {
        left.waitingFor.push_back(destination);
      }
    }
    tx.commit();
    return left;
  }

  void retryJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE jobs SET state=?1, last_error=?2, next_attempt_at=?3, interrupted=0 WHERE id=?4")
        .bind(1, asInt(JobState::Failed)).bind(2, error).bind(3, toMs(nextAttempt)).bind(4, jobId).run();
  }

  void releaseJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE jobs SET state=?1, last_error=?2, next_attempt_at=?3, interrupted=0 WHERE id=?4 AND state=?5")
        .bind(1, asInt(JobState::Failed)).bind(2, error).bind(3, toMs(nextAttempt)).bind(4, jobId)
        .bind(5, asInt(JobState::Sending)).run();
  }

  void killJob(int64_t jobId, const std::string& error) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE jobs SET state=?1, last_error=?2 WHERE id=?3")
        .bind(1, asInt(JobState::Dead)).bind(2, error).bind(3, jobId).run();
  }

  std::optional<Job> getJob(int64_t jobId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?1").c_str());
    if (!s.bind(1, jobId).step()) return std::nullopt;
    return readJob(s);
  }

  std::vector<Job> listJobs(const JobFilter& filter) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kJobColumns +
                      " FROM jobs WHERE id>?1 AND (?2='' OR destination=?2) AND (?3<0 OR state=?3) "
                      "AND (?5='' OR sop_instance_uid=?5 OR instance_id IN "
                      "(SELECT instance_id FROM instance_keys WHERE key IN (?6, ?7, ?8))) "
                      "ORDER BY id LIMIT ?4").c_str());
    const auto keys = searchKeysFor(filter.search);
    s.bind(1, filter.afterId).bind(2, filter.destination)
        .bind(3, filter.state ? asInt(*filter.state) : int64_t{-1}).bind(4, filter.limit).bind(5, filter.search)
        .bind(6, keys[0]).bind(7, keys[1]).bind(8, keys[2]);
    std::vector<Job> jobs;
    while (s.step()) jobs.push_back(readJob(s));
    return jobs;
  }

  bool retryJobNow(int64_t jobId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE jobs SET state=?1, attempts=0, next_attempt_at=?2, interrupted=0 WHERE id=?3 AND state IN (?4, ?5)")
        .bind(1, asInt(JobState::Pending)).bind(2, nowMs()).bind(3, jobId)
        .bind(4, asInt(JobState::Failed)).bind(5, asInt(JobState::Dead)).run();
    return db_.changes() > 0;
  }

  bool purgeJob(int64_t jobId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "DELETE FROM jobs WHERE id=?1 AND state<>?2").bind(1, jobId).bind(2, asInt(JobState::Sending)).run();
    const bool purged = db_.changes() > 0;
    if (purged) sqlite_batches::settle(db_, 0, nowMs());
    return purged;
  }

  int retryDead(const std::string& destination) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE jobs SET state=?1, attempts=0, next_attempt_at=?2, interrupted=0 WHERE destination=?3 AND state=?4")
        .bind(1, asInt(JobState::Pending)).bind(2, nowMs()).bind(3, destination).bind(4, asInt(JobState::Dead)).run();
    return db_.changes();
  }

  int purgeDead(const std::string& destination) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "DELETE FROM jobs WHERE destination=?1 AND state=?2")
        .bind(1, destination).bind(2, asInt(JobState::Dead)).run();
    const int purged = db_.changes();
    if (purged > 0) sqlite_batches::settle(db_, 0, nowMs());
    return purged;
  }

  int moveWaitingJobs(const std::string& from, const std::string& to, const std::string& note) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_,
              "UPDATE jobs SET destination=?1, state=?2, attempts=0, next_attempt_at=?3, "
              "last_error=?4 || last_error WHERE destination=?5 AND state IN (?2, ?6)")
        .bind(1, to).bind(2, asInt(JobState::Pending)).bind(3, nowMs()).bind(4, note + ": ").bind(5, from)
        .bind(6, asInt(JobState::Failed)).run();
    return db_.changes();
  }

  void flush() override {
    std::lock_guard<std::mutex> lock(mutex_);
    // In WAL mode with synchronous=NORMAL the WAL is synced before every
    // checkpoint: after this, every commit so far survives a power loss.
    Statement(db_, "PRAGMA wal_checkpoint(PASSIVE)").run();
  }

  QueueDepth depth() override {
    std::lock_guard<std::mutex> lock(mutex_);
    QueueDepth depth;
    Statement jobs(db_, "SELECT destination, state, COUNT(*), MIN(created_at) FROM jobs GROUP BY destination, state");
    while (jobs.step()) {
      auto state = jobStateFromStored(jobs.int64(1));
      depth.jobs[jobs.text(0)][state] = jobs.int64(2);
      if (state != JobState::Dead && state != JobState::Held) {
        auto oldest = fromMs(jobs.int64(3));
        auto [it, inserted] = depth.oldestPending.emplace(jobs.text(0), oldest);
        if (!inserted && oldest < it->second) it->second = oldest;
      }
    }
    Statement intake(db_, "SELECT state, COUNT(*) FROM intake WHERE state<>?1 GROUP BY state");
    intake.bind(1, asInt(IntakeState::Routed));
    while (intake.step()) depth.intake[intakeStateFromStored(intake.int64(0))] = intake.int64(1);
    sqlite_batches::countInto(db_, depth);
    return depth;
  }

  std::vector<Batch> releaseDue(Clock::time_point now, std::optional<Clock::time_point>& nextDue) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    std::optional<int64_t> nextMs;
    std::vector<Batch> released = sqlite_batches::releaseDue(db_, toMs(now), nextMs);
    tx.commit();
    nextDue = nextMs ? std::optional<Clock::time_point>(fromMs(*nextMs)) : std::nullopt;
    return released;
  }

  bool releaseBatch(int64_t batchId, Clock::time_point now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    const bool done =
        sqlite_batches::release(db_, batchId, "operator", toMs(now), {BatchState::Waiting, BatchState::OnHold});
    tx.commit();
    return done;
  }

  bool holdBatch(int64_t batchId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::setState(db_, batchId, BatchState::Waiting, BatchState::OnHold);
  }

  bool resumeBatch(int64_t batchId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::setState(db_, batchId, BatchState::OnHold, BatchState::Waiting);
  }

  bool cancelBatch(int64_t batchId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction tx(db_);
    const bool done = sqlite_batches::cancel(db_, batchId);
    tx.commit();
    return done;
  }

  std::optional<Batch> getBatch(int64_t batchId) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::get(db_, batchId);
  }

  std::vector<Batch> listBatches(std::optional<BatchState> state, int limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_batches::list(db_, state, limit);
  }

  int pruneHistory(Clock::time_point before, int limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    // Routed rows are in id order of arrival; the oldest go first.
    Statement(db_, "DELETE FROM intake WHERE id IN (SELECT id FROM intake WHERE state=?1 AND received_at<?2 "
                   "ORDER BY id LIMIT ?3)")
        .bind(1, asInt(IntakeState::Routed)).bind(2, toMs(before)).bind(3, limit).run();
    const int intake = db_.changes();
    Transaction tx(db_);
    const int batches = sqlite_batches::prune(db_, toMs(before), limit);
    // Search keys of instances that have neither a job nor an intake record left.
    Statement(db_, "DELETE FROM instance_keys WHERE instance_id IN (SELECT DISTINCT k.instance_id FROM "
                   "instance_keys k WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.instance_id=k.instance_id) AND "
                   "NOT EXISTS (SELECT 1 FROM intake i WHERE i.instance_id=k.instance_id) LIMIT ?1)")
        .bind(1, limit).run();
    tx.commit();
    return intake + batches;
  }

 private:
  // Creates a new queue at kSchemaVersion, or upgrades an older file step
  // by step in one transaction; refuses a file of a newer release.
  void migrate() {
    Transaction tx(db_);
    Statement existing(db_, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='jobs'");
    const bool fresh = !existing.step();
    Statement versionQuery(db_, "PRAGMA user_version");
    versionQuery.step();
    int version = static_cast<int>(versionQuery.int64(0));
    if (version > kSchemaVersion) {
      throw RouterError("queue database: written by a newer release (schema version " + std::to_string(version) +
                        ", this release knows up to " + std::to_string(kSchemaVersion) +
                        "); upgrade the appliance or point Router.QueueDatabase elsewhere");
    }
    if (fresh) {
      db_.exec(kSchema);
    } else {
      if (version < 1) db_.exec(kMigrateTo1);
      if (version < 2) db_.exec(kMigrateTo2);
      if (version < 3) db_.exec(kMigrateTo3);
      db_.exec(kSchema);  // indexes added since, if any
    }
    db_.exec(sqlite_batches::kSchema);
    // Schema 3 also has batch_members.series_uid, added here rather than in
    // kMigrateTo3: a version 1 file has no batch tables until the line above.
    // Older members read as of no series, which only route_study() asks for.
    if (!hasColumn("batch_members", "series_uid")) {
      db_.exec("ALTER TABLE batch_members ADD COLUMN series_uid TEXT NOT NULL DEFAULT ''");
    }
    db_.exec(sqlite_pseudonyms::kSchema);
    db_.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    tx.commit();
  }

  bool hasColumn(const std::string& table, const std::string& column) {
    Statement s(db_, "SELECT 1 FROM pragma_table_info(?1) WHERE name=?2");
    return s.bind(1, table).bind(2, column).step();
  }

  std::string assignPseudonym(const std::string& project, const std::string& patientKey, const std::string& patientId,
                              const std::string& patientName, const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_pseudonyms::assign(db_, project, patientKey, patientId, patientName, prefix, nowMs());
  }

  void recordPseudonym(const PseudonymEntry& entry) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sqlite_pseudonyms::record(db_, entry, nowMs());
  }

  std::optional<PseudonymEntry> findPseudonym(const std::string& project, const std::string& pseudonym) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return sqlite_pseudonyms::find(db_, project, pseudonym);
  }

  void setIntake(int64_t intakeId, IntakeState state, const std::string& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "UPDATE intake SET state=?1, error=?2 WHERE id=?3")
        .bind(1, asInt(state)).bind(2, error).bind(3, intakeId).run();
  }

  const QueueNode node_;
  const Clock::time_point startedAt_;
  std::mutex mutex_;
  Clock::time_point lastBeat_;  // under mutex_
  sqlite::Database db_;
};

}  // namespace

void sqlite_batches::insertJob(sqlite::Database& db, const std::string& instanceId, const std::string& sopInstanceUid,
                               const Route& route, JobState state, int64_t batchId, int64_t sortKey, int64_t nowMs) {
  Statement(db, "INSERT INTO jobs(instance_id, sop_instance_uid, destination, transfer_syntax, modify, "
                "priority, state, created_at, next_attempt_at, batch_id, sort_key, urgent, deidentify) "
                "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8,?9,?10,?11,?12)")
      .bind(1, instanceId).bind(2, sopInstanceUid).bind(3, route.destination)
      .bind(4, route.transferSyntax).bind(5, encodeEdits(route.modify)).bind(6, route.priority)
      .bind(7, asInt(state)).bind(8, nowMs).bind(9, batchId).bind(10, sortKey).bind(11, route.urgent ? 1 : 0)
      .bind(12, encodeDeidentify(route.deidentify)).run();
}

std::unique_ptr<Queue> openSqliteQueue(const std::string& path, const QueueNode& node) {
  return std::make_unique<SqliteQueue>(path, node);
}

}  // namespace router
