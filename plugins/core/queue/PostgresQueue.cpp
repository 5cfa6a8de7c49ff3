// The shared queue: one PostgreSQL database that several appliances use at
// once (Router.QueueDatabase "postgresql://..."). The same tables and
// semantics as SqliteQueue.cpp; what SQLite gets from its single writer,
// this gets from row locks:
// - claims take the next row with FOR UPDATE SKIP LOCKED in one statement,
//   so nodes and threads claiming at once each get another row;
// - a batch's row is locked before its jobs change (PostgresBatches.h);
// - Orthanc's changes log is shared by the nodes of one Orthanc index: its
//   cursor moves under a lock and only forward, and a change at or below
//   it is never taken in again, whichever node fetched it;
// - the schema is created or upgraded under an advisory lock, so nodes
//   starting at once on an empty database do it once.
//
// Thread safety: connections come from a pool, one per call for the
// length of the call (pg::Pool). A pool rather than one connection per
// thread: the callers are a few long-lived workers plus REST threads that
// come and go, and a pool keeps at most the peak number of connections open
// without tying any to a thread's lifetime. Every call is one short
// transaction (or a single statement) and nothing slow runs inside it.
//
// Errors: a failing call throws RouterError naming the database; a lost
// connection is closed (with every idle one) and the next call connects
// again. Callers already treat a queue error as transient.
#include <algorithm>
#include <limits>

#include "plugins/core/Error.h"
#include "plugins/core/queue/Postgres.h"
#include "plugins/core/queue/PostgresBatches.h"
#include "plugins/core/queue/PostgresPseudonyms.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/queue/SearchKeys.h"
#include "plugins/core/queue/StoredForm.h"

namespace router {
namespace {

using pg::Connection;
using pg::Transaction;
using stored::fromMs;
using stored::nowMs;
using stored::toMs;

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intake (
  id BIGSERIAL PRIMARY KEY,
  change_seq BIGINT NOT NULL UNIQUE,
  instance_id TEXT NOT NULL,
  state BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  received_at BIGINT NOT NULL,
  interrupted BIGINT NOT NULL DEFAULT 0,
  node TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS intake_state ON intake(state, id);
CREATE INDEX IF NOT EXISTS intake_instance ON intake(instance_id);
CREATE TABLE IF NOT EXISTS jobs (
  id BIGSERIAL PRIMARY KEY,
  instance_id TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  destination TEXT NOT NULL,
  transfer_syntax TEXT NOT NULL,
  modify TEXT NOT NULL,
  priority BIGINT NOT NULL,
  state BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  interrupted BIGINT NOT NULL DEFAULT 0,
  batch_id BIGINT NOT NULL DEFAULT 0,
  sort_key BIGINT NOT NULL DEFAULT 0,
  urgent BIGINT NOT NULL DEFAULT 0,
  deidentify TEXT NOT NULL DEFAULT '',
  node TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_next ON jobs(destination, state, priority DESC, batch_id, sort_key, id);
CREATE INDEX IF NOT EXISTS jobs_instance ON jobs(instance_id);
CREATE TABLE IF NOT EXISTS instance_keys (
  key TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  PRIMARY KEY (key, instance_id));
CREATE INDEX IF NOT EXISTS instance_keys_instance ON instance_keys(instance_id);
CREATE TABLE IF NOT EXISTS nodes (
  name TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  lease_ms BIGINT NOT NULL);
)SQL";
// What a node holds, counted for the status at every scrape: only in-flight
// rows are indexed (their state numbers are storedValue(Routing/Sending),
// checked at start by migrate()).
constexpr const char* kHeldIndexes = R"SQL(
CREATE INDEX IF NOT EXISTS intake_held ON intake(node) WHERE state = 1;
CREATE INDEX IF NOT EXISTS jobs_held ON jobs(node) WHERE state = 1;
)SQL";

// meta.schema_version of a database this release writes. The numbers are
// those of the SQLite file with the same tables (SqliteQueue.cpp), plus what
// only a shared queue needs: who holds a claim (node) and until when
// (lease_until, ms). The first PostgreSQL release starts at 3; a database
// written at 2 (before it was released) gets jobs.deidentify.
constexpr int kSchemaVersion = 3;
// Taken for the schema's creation or upgrade (pg_advisory_xact_lock's
// two-key space; the first key says "orthanc-router").
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(hashtext('orthanc-router'), 1)";
// Taken while the changes-log cursor moves (it may not exist yet, so a row
// lock cannot cover its creation).
constexpr const char* kCursorLock = "SELECT pg_advisory_xact_lock(hashtext('orthanc-router'), 2)";

using stored::kQuarantineAfter;

constexpr const char* kJobColumns =
    "jobs.id, jobs.instance_id, jobs.sop_instance_uid, jobs.destination, jobs.transfer_syntax, jobs.modify, "
    "jobs.priority, jobs.state, jobs.attempts, jobs.created_at, jobs.next_attempt_at, jobs.last_error, jobs.urgent, "
    "jobs.deidentify";

Job readJob(const pg::Result& r, int row) {
  Job job;
  job.id = r.int64(row, 0);
  job.instanceId = r.text(row, 1);
  job.sopInstanceUid = r.text(row, 2);
  job.route.destination = r.text(row, 3);
  job.route.transferSyntax = r.text(row, 4);
  job.route.modify = stored::decodeEdits(r.text(row, 5));
  job.route.priority = static_cast<int>(r.int64(row, 6));
  job.state = jobStateFromStored(r.int64(row, 7));
  job.attempts = static_cast<int>(r.int64(row, 8));
  job.createdAt = fromMs(r.int64(row, 9));
  job.nextAttemptAt = fromMs(r.int64(row, 10));
  job.lastError = r.text(row, 11);
  job.route.urgent = r.int64(row, 12) != 0;
  job.route.deidentify = stored::decodeDeidentify(r.text(row, 13));
  return job;
}

constexpr const char* kIntakeColumns =
    "intake.id, intake.change_seq, intake.instance_id, intake.state, intake.error, intake.attempts";

IntakeItem readIntake(const pg::Result& r, int row) {
  IntakeItem item;
  item.id = r.int64(row, 0);
  item.changeSeq = r.int64(row, 1);
  item.instanceId = r.text(row, 2);
  item.state = intakeStateFromStored(r.int64(row, 3));
  item.error = r.text(row, 4);
  item.attempts = static_cast<int>(r.int64(row, 5));
  return item;
}

int64_t asInt(JobState s) { return storedValue(s); }
int64_t asInt(IntakeState s) { return storedValue(s); }

class PostgresQueue : public Queue {
 public:
  PostgresQueue(const std::string& uri, QueueNode node)
      : node_(std::move(node)), pool_(uri, describeQueueDatabase(uri)) {
    migrate();
    beat(nowMs(), true);
  }

  // This node's claims only; other nodes' are taken back by heartbeat()
  // once their lease expired.
  Recovery recover() override {
    auto c = pool_.take();
    Transaction tx(*c);
    Recovery r;
    r.requeued = requeueInFlight(*c, "node=$2", std::numeric_limits<int64_t>::max(), r.quarantinedIntake,
                                 r.quarantinedJobs);
    tx.commit();
    return r;
  }

  Heartbeat heartbeat(Clock::time_point now) override {
    auto c = pool_.take();
    Transaction tx(*c);
    Heartbeat h;
    const int64_t until = toMs(now) + leaseMs();
    h.renewed = c->exec("UPDATE intake SET lease_until=$1 WHERE state=$2 AND node=$3",
                        {until, asInt(IntakeState::Routing), node_.name})
                    .affected() +
                c->exec("UPDATE jobs SET lease_until=$1 WHERE state=$2 AND node=$3",
                        {until, asInt(JobState::Sending), node_.name})
                    .affected();
    int quarantinedIntake = 0, quarantinedJobs = 0;
    h.takenOver = requeueInFlight(*c, "node<>$2", toMs(now), quarantinedIntake, quarantinedJobs);
    h.quarantined = quarantinedIntake + quarantinedJobs;
    h.takenOver += h.quarantined;
    tx.commit();
    beat(toMs(now), false);
    return h;
  }

  std::vector<NodeState> nodes(Clock::time_point now) override {
    auto c = pool_.take();
    pg::Result r = c->exec(
        "SELECT n.name, n.started_at, n.heartbeat_at, n.lease_ms, "
        "(SELECT COUNT(*) FROM intake i WHERE i.node=n.name AND i.state=$1), "
        "(SELECT COUNT(*) FROM jobs j WHERE j.node=n.name AND j.state=$2) FROM nodes n ORDER BY n.name",
        {asInt(IntakeState::Routing), asInt(JobState::Sending)});
    std::vector<NodeState> out;
    for (int row = 0; row < r.rows(); ++row) {
      NodeState n;
      n.name = r.text(row, 0);
      n.startedAt = fromMs(r.int64(row, 1));
      n.lastHeartbeat = fromMs(r.int64(row, 2));
      n.lease = std::chrono::seconds(r.int64(row, 3) / 1000);
      n.intakeHeld = r.int64(row, 4);
      n.jobsHeld = r.int64(row, 5);
      n.alive = toMs(now) <= r.int64(row, 2) + r.int64(row, 3);
      out.push_back(std::move(n));
    }
    return out;
  }

  std::optional<int64_t> lastChangeSeq() override {
    auto c = pool_.take();
    pg::Result r = c->exec("SELECT value FROM meta WHERE key='last_change_seq'");
    if (r.empty()) return std::nullopt;
    return std::stoll(r.text(0, 0));
  }

  int recordChanges(const std::vector<Change>& changes, int64_t lastSeq, bool skipKnownInstances) override {
    auto c = pool_.take();
    Transaction tx(*c);
    c->exec(kCursorLock);
    pg::Result cursor = c->exec("SELECT value FROM meta WHERE key='last_change_seq'");
    // Changes at or below the cursor were taken in already, by this node or another.
    const pg::Value taken = cursor.empty() ? pg::Value(nullptr) : pg::Value(cursor.text(0, 0));
    const int64_t now = nowMs();
    int added = 0;
    std::vector<int64_t> seqs;
    std::vector<std::string> ids;
    for (const Change& change : changes) {
      if (!skipKnownInstances) {
        seqs.push_back(change.seq);
        ids.push_back(change.instanceId);
        continue;
      }
      // One at a time: an instance twice in one page is taken in once.
      added += c->exec("INSERT INTO intake(change_seq, instance_id, state, received_at) SELECT $1, $2, $3, $4 "
                       "WHERE ($5::bigint IS NULL OR $1 > $5) AND NOT EXISTS "
                       "(SELECT 1 FROM intake WHERE instance_id=$2) ON CONFLICT (change_seq) DO NOTHING",
                       {change.seq, change.instanceId, asInt(IntakeState::New), now, taken})
                   .affected();
    }
    // The page in one statement, in its order, with the new cursor.
    pg::Result page = c->exec(
        "WITH added AS (INSERT INTO intake(change_seq, instance_id, state, received_at) "
        "SELECT u.s, u.i, $3, $4 FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(s, i, n) "
        "WHERE $5::bigint IS NULL OR u.s > $5 ORDER BY u.n ON CONFLICT (change_seq) DO NOTHING RETURNING 1), "
        "cursor AS (INSERT INTO meta(key, value) VALUES('last_change_seq', $6) ON CONFLICT (key) DO UPDATE SET "
        "value=GREATEST(meta.value::bigint, excluded.value::bigint)::text) "
        "SELECT COUNT(*) FROM added",
        {pg::intArray(seqs), pg::textArray(ids), asInt(IntakeState::New), now, taken, std::to_string(lastSeq)});
    added += static_cast<int>(page.int64(0, 0));
    tx.commit();
    return added;
  }

  std::optional<IntakeItem> claimIntake() override {
    auto c = pool_.take();
    pg::Result r = c->exec(std::string("WITH next AS (SELECT id FROM intake WHERE state=$1 ORDER BY id LIMIT 1 "
                                       "FOR UPDATE SKIP LOCKED) "
                                       "UPDATE intake SET state=$2, attempts=attempts+1, node=$3, lease_until=$4 FROM next "
                                       "WHERE intake.id=next.id RETURNING ") + kIntakeColumns,
                           {asInt(IntakeState::New), asInt(IntakeState::Routing), node_.name, nowMs() + leaseMs()});
    if (r.empty()) return std::nullopt;
    return readIntake(r, 0);
  }

  void finishRouting(int64_t intakeId, const RoutedInstance& instance, const std::vector<Route>& routes) override {
    auto c = pool_.take();
    if (std::all_of(routes.begin(), routes.end(),
                    [](const Route& r) { return r.completion.level == RouteLevel::Instance; })) {
      finishInstanceRouting(*c, intakeId, instance, routes);
      return;
    }
    Transaction tx(*c);
    pg::Result current = c->exec("SELECT instance_id FROM intake WHERE id=$1 FOR UPDATE", {intakeId});
    if (current.empty()) return;  // purged meanwhile
    const std::string instanceId = current.text(0, 0);
    const int64_t now = nowMs();
    for (const Route& route : routes) {
      if (route.completion.level == RouteLevel::Instance) {
        pg_batches::insertJob(*c, instanceId, instance.sopInstanceUid, route, JobState::Pending, 0, 0, now);
      } else {
        pg_batches::enqueue(*c, instanceId, instance, route, now);
      }
    }
    if (!routes.empty() && !instance.searchKeys.empty()) {
      c->exec("INSERT INTO instance_keys(key, instance_id) SELECT k, $1 FROM unnest($2::text[]) AS k "
              "ON CONFLICT DO NOTHING",
              {instanceId, pg::textArray(instance.searchKeys)});
    }
    c->exec("UPDATE intake SET state=$1, error='' WHERE id=$2", {asInt(IntakeState::Routed), intakeId});
    tx.commit();
  }

  // The usual case, one statement (one round trip): every route is sent as
  // an instance, so no batch is involved.
  void finishInstanceRouting(Connection& c, int64_t intakeId, const RoutedInstance& instance,
                             const std::vector<Route>& routes) {
    std::vector<std::string> destinations, syntaxes, edits, deidentify;
    std::vector<int64_t> priorities, urgent;
    for (const Route& r : routes) {
      destinations.push_back(r.destination);
      syntaxes.push_back(r.transferSyntax);
      edits.push_back(stored::encodeEdits(r.modify));
      deidentify.push_back(stored::encodeDeidentify(r.deidentify));
      priorities.push_back(r.priority);
      urgent.push_back(r.urgent ? 1 : 0);
    }
    // No route: nothing to search for later.
    const std::vector<std::string> keys = routes.empty() ? std::vector<std::string>{} : instance.searchKeys;
    c.exec("WITH done AS (UPDATE intake SET state=$1, error='' WHERE id=$2 RETURNING instance_id), "
           "keyed AS (INSERT INTO instance_keys(key, instance_id) SELECT k, done.instance_id FROM done, "
           "unnest($12::text[]) AS k ON CONFLICT DO NOTHING) "
           "INSERT INTO jobs(instance_id, sop_instance_uid, destination, transfer_syntax, modify, priority, state, "
           "created_at, next_attempt_at, urgent, deidentify) "
           "SELECT done.instance_id, $3, r.d, r.t, r.m, r.p, $4, $5, $5, r.u, r.x FROM done, "
           "unnest($6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[]) "
           "WITH ORDINALITY AS r(d, t, m, p, u, x, n) ORDER BY r.n",
           {asInt(IntakeState::Routed), intakeId, instance.sopInstanceUid, asInt(JobState::Pending), nowMs(),
            pg::textArray(destinations), pg::textArray(syntaxes), pg::textArray(edits), pg::intArray(priorities),
            pg::intArray(urgent), pg::textArray(deidentify), pg::textArray(keys)});
  }

  std::vector<Batch> studiesToDecide(int limit) override {
    auto c = pool_.take();
    return pg_batches::toDecide(*c, limit);
  }

  std::vector<BatchSeries> batchSeries(int64_t batchId) override {
    auto c = pool_.take();
    return pg_batches::series(*c, batchId);
  }

  bool decideStudy(int64_t batchId, const std::vector<Route>& routes, Clock::time_point now) override {
    auto c = pool_.take();
    Transaction tx(*c);
    const bool done = pg_batches::decide(*c, batchId, routes, toMs(now));
    tx.commit();
    return done;
  }

  bool holdStudyDecision(int64_t batchId, const std::string& reason) override {
    auto c = pool_.take();
    return pg_batches::holdDecision(*c, batchId, reason);
  }

  void failRouting(int64_t intakeId, const std::string& error) override {
    auto c = pool_.take();
    c->exec("UPDATE intake SET state=$1, error=$2 WHERE id=$3", {asInt(IntakeState::RuleFailed), error, intakeId});
  }

  void postponeRouting(int64_t intakeId, const std::string& error) override {
    auto c = pool_.take();
    c->exec("UPDATE intake SET state=$1, error=$2, interrupted=0 WHERE id=$3 AND state=$4",
            {asInt(IntakeState::New), error, intakeId, asInt(IntakeState::Routing)});
  }

  int rerouteFailed() override {
    auto c = pool_.take();
    return c->exec("UPDATE intake SET state=$1, attempts=0, interrupted=0 WHERE state=$2",
                   {asInt(IntakeState::New), asInt(IntakeState::RuleFailed)})
        .affected();
  }

  std::vector<IntakeItem> listIntake(IntakeState state, int limit) override {
    auto c = pool_.take();
    pg::Result r = c->exec(std::string("SELECT ") + kIntakeColumns + " FROM intake WHERE state=$1 ORDER BY id LIMIT $2",
                           {asInt(state), limit});
    std::vector<IntakeItem> items;
    for (int i = 0; i < r.rows(); ++i) items.push_back(readIntake(r, i));
    return items;
  }

  std::optional<Job> claimJob(const std::string& destination, bool urgentOnly) override {
    auto c = pool_.take();
    pg::Result r = c->exec(
        // A released series or study stays with the node sending it: not a
        // job of a batch another node is sending (its order and its one
        // association hold across nodes; a dead node's batch waits for the
        // takeover at the end of its lease).
        std::string("WITH next AS (SELECT id FROM jobs WHERE destination=$1 AND (state=$2 OR (state=$3 AND "
                    "next_attempt_at<=$4)) AND ($5::bigint=0 OR urgent=1) AND (batch_id=0 OR NOT EXISTS "
                    "(SELECT 1 FROM jobs o WHERE o.state=$6 AND o.node<>$7 AND o.batch_id=jobs.batch_id)) "
                    "ORDER BY priority DESC, batch_id, sort_key, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "UPDATE jobs SET state=$6, attempts=attempts+1, node=$7, lease_until=$8 FROM next "
                    "WHERE jobs.id=next.id RETURNING ") + kJobColumns,
        {destination, asInt(JobState::Pending), asInt(JobState::Failed), nowMs(), urgentOnly ? 1 : 0,
         asInt(JobState::Sending), node_.name, nowMs() + leaseMs()});
    if (r.empty()) return std::nullopt;
    return readJob(r, 0);
  }

  std::optional<Clock::time_point> nextRetry(const std::string& destination) override {
    auto c = pool_.take();
    pg::Result r = c->exec("SELECT MIN(next_attempt_at) FROM jobs WHERE destination=$1 AND state=$2",
                           {destination, asInt(JobState::Failed)});
    if (r.empty() || r.isNull(0, 0)) return std::nullopt;
    return fromMs(r.int64(0, 0));
  }

  InstanceLeft completeJob(int64_t jobId) override {
    auto c = pool_.take();
    InstanceLeft left;
    // The usual case, one statement: a job of no batch. The other jobs of
    // its instance are read in the statement's snapshot, which still has
    // the deleted one: hence j.id<>$1.
    pg::Result gone = c->exec("WITH gone AS (DELETE FROM jobs WHERE id=$1 AND batch_id=0 RETURNING instance_id) "
                              "SELECT j.destination, j.state FROM gone LEFT JOIN jobs j "
                              "ON j.instance_id=gone.instance_id AND j.id<>$1",
                              {jobId});
    if (!gone.empty()) {
      for (int i = 0; i < gone.rows(); ++i) {
        if (gone.isNull(i, 0)) continue;
        ++left.jobs;
        const std::string destination = gone.text(i, 0);
        if (gone.int64(i, 1) != asInt(JobState::Dead) &&
            std::find(left.waitingFor.begin(), left.waitingFor.end(), destination) == left.waitingFor.end()) {
          left.waitingFor.push_back(destination);
        }
      }
      return left;
    }
    Transaction tx(*c);
    pg::Result find = c->exec("SELECT instance_id, batch_id FROM jobs WHERE id=$1", {jobId});
    if (find.empty()) {
      left.jobs = 1;  // purged meanwhile: say nothing about its instance
      return left;
    }
    const std::string instanceId = find.text(0, 0);
    const int64_t batchId = find.int64(0, 1);
    // The batch first: the last two jobs of a batch completed at once must
    // not each see the other still there (then neither settles it).
    if (batchId != 0) pg_batches::lock(*c, batchId);
    c->exec("DELETE FROM jobs WHERE id=$1", {jobId});
    if (batchId != 0 && pg_batches::settle(*c, batchId, nowMs()) > 0) left.batchDelivered = pg_batches::get(*c, batchId);
    pg::Result rest = c->exec("SELECT destination, state FROM jobs WHERE instance_id=$1", {instanceId});
    for (int i = 0; i < rest.rows(); ++i) {
      ++left.jobs;
      const std::string destination = rest.text(i, 0);
      if (rest.int64(i, 1) != asInt(JobState::Dead) &&
          std::find(left.waitingFor.begin(), left.waitingFor.end(), destination) == left.waitingFor.end()) {
        left.waitingFor.push_back(destination);
      }
    }
    tx.commit();
    return left;
  }

  void retryJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) override {
    auto c = pool_.take();
    c->exec("UPDATE jobs SET state=$1, last_error=$2, next_attempt_at=$3, interrupted=0 WHERE id=$4",
            {asInt(JobState::Failed), error, toMs(nextAttempt), jobId});
  }

  void releaseJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) override {
    auto c = pool_.take();
    c->exec("UPDATE jobs SET state=$1, last_error=$2, next_attempt_at=$3, interrupted=0 WHERE id=$4 AND state=$5",
            {asInt(JobState::Failed), error, toMs(nextAttempt), jobId, asInt(JobState::Sending)});
  }

  void killJob(int64_t jobId, const std::string& error) override {
    auto c = pool_.take();
    c->exec("UPDATE jobs SET state=$1, last_error=$2 WHERE id=$3", {asInt(JobState::Dead), error, jobId});
  }

  std::optional<Job> getJob(int64_t jobId) override {
    auto c = pool_.take();
    pg::Result r = c->exec(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=$1", {jobId});
    if (r.empty()) return std::nullopt;
    return readJob(r, 0);
  }

  std::vector<Job> listJobs(const JobFilter& filter) override {
    auto c = pool_.take();
    const auto keys = searchKeysFor(filter.search);
    pg::Result r = c->exec(std::string("SELECT ") + kJobColumns +
                               " FROM jobs WHERE id>$1 AND ($2::text='' OR destination=$2) AND ($3::bigint<0 OR "
                               "state=$3) AND ($5::text='' OR sop_instance_uid=$5 OR instance_id IN "
                               "(SELECT instance_id FROM instance_keys WHERE key IN ($6, $7, $8))) ORDER BY id LIMIT $4",
                           {filter.afterId, filter.destination, filter.state ? asInt(*filter.state) : int64_t{-1},
                            filter.limit, filter.search, keys[0], keys[1], keys[2]});
    std::vector<Job> jobs;
    for (int i = 0; i < r.rows(); ++i) jobs.push_back(readJob(r, i));
    return jobs;
  }

  bool retryJobNow(int64_t jobId) override {
    auto c = pool_.take();
    return c->exec("UPDATE jobs SET state=$1, attempts=0, next_attempt_at=$2, interrupted=0 WHERE id=$3 AND "
                   "state IN ($4, $5)",
                   {asInt(JobState::Pending), nowMs(), jobId, asInt(JobState::Failed), asInt(JobState::Dead)})
               .affected() > 0;
  }

  bool purgeJob(int64_t jobId) override {
    auto c = pool_.take();
    Transaction tx(*c);
    const bool purged =
        c->exec("DELETE FROM jobs WHERE id=$1 AND state<>$2", {jobId, asInt(JobState::Sending)}).affected() > 0;
    if (purged) pg_batches::settle(*c, 0, nowMs());
    tx.commit();
    return purged;
  }

  int retryDead(const std::string& destination) override {
    auto c = pool_.take();
    return c->exec("UPDATE jobs SET state=$1, attempts=0, next_attempt_at=$2, interrupted=0 WHERE destination=$3 "
                   "AND state=$4",
                   {asInt(JobState::Pending), nowMs(), destination, asInt(JobState::Dead)})
        .affected();
  }

  int purgeDead(const std::string& destination) override {
    auto c = pool_.take();
    Transaction tx(*c);
    const int purged =
        c->exec("DELETE FROM jobs WHERE destination=$1 AND state=$2", {destination, asInt(JobState::Dead)}).affected();
    if (purged > 0) pg_batches::settle(*c, 0, nowMs());
    tx.commit();
    return purged;
  }

  int moveWaitingJobs(const std::string& from, const std::string& to, const std::string& note) override {
    auto c = pool_.take();
    return c->exec("UPDATE jobs SET destination=$1, state=$2, attempts=0, next_attempt_at=$3, "
                   "last_error=$4 || last_error WHERE destination=$5 AND state IN ($2, $6)",
                   {to, asInt(JobState::Pending), nowMs(), note + ": ", from, asInt(JobState::Failed)})
        .affected();
  }

  // A commit is durable once it returns (synchronous_commit=on, the
  // server's default): nothing is left to flush.
  void flush() override {}

  QueueDepth depth() override {
    auto c = pool_.take();
    QueueDepth depth;
    pg::Result jobs = c->exec("SELECT destination, state, COUNT(*), MIN(created_at) FROM jobs GROUP BY destination, state");
    for (int i = 0; i < jobs.rows(); ++i) {
      const JobState state = jobStateFromStored(jobs.int64(i, 1));
      depth.jobs[jobs.text(i, 0)][state] = jobs.int64(i, 2);
      if (state != JobState::Dead && state != JobState::Held) {
        const auto oldest = fromMs(jobs.int64(i, 3));
        auto [it, inserted] = depth.oldestPending.emplace(jobs.text(i, 0), oldest);
        if (!inserted && oldest < it->second) it->second = oldest;
      }
    }
    pg::Result intake =
        c->exec("SELECT state, COUNT(*) FROM intake WHERE state<>$1 GROUP BY state", {asInt(IntakeState::Routed)});
    for (int i = 0; i < intake.rows(); ++i) depth.intake[intakeStateFromStored(intake.int64(i, 0))] = intake.int64(i, 1);
    pg_batches::countInto(*c, depth);
    return depth;
  }

  std::vector<Batch> releaseDue(Clock::time_point now, std::optional<Clock::time_point>& nextDue) override {
    auto c = pool_.take();
    Transaction tx(*c);
    std::optional<int64_t> nextMs;
    std::vector<Batch> released = pg_batches::releaseDue(*c, toMs(now), nextMs);
    tx.commit();
    nextDue = nextMs ? std::optional<Clock::time_point>(fromMs(*nextMs)) : std::nullopt;
    return released;
  }

  bool releaseBatch(int64_t batchId, Clock::time_point now) override {
    auto c = pool_.take();
    Transaction tx(*c);
    const bool done = pg_batches::release(*c, batchId, "operator", toMs(now), {BatchState::Waiting, BatchState::OnHold});
    tx.commit();
    return done;
  }

  bool holdBatch(int64_t batchId) override {
    auto c = pool_.take();
    return pg_batches::setState(*c, batchId, BatchState::Waiting, BatchState::OnHold);
  }

  bool resumeBatch(int64_t batchId) override {
    auto c = pool_.take();
    return pg_batches::setState(*c, batchId, BatchState::OnHold, BatchState::Waiting);
  }

  bool cancelBatch(int64_t batchId) override {
    auto c = pool_.take();
    Transaction tx(*c);
    const bool done = pg_batches::cancel(*c, batchId);
    tx.commit();
    return done;
  }

  std::optional<Batch> getBatch(int64_t batchId) override {
    auto c = pool_.take();
    return pg_batches::get(*c, batchId);
  }

  std::vector<Batch> listBatches(std::optional<BatchState> state, int limit) override {
    auto c = pool_.take();
    return pg_batches::list(*c, state, limit);
  }

  int pruneHistory(Clock::time_point before, int limit) override {
    auto c = pool_.take();
    const int intake = c->exec("DELETE FROM intake WHERE id IN (SELECT id FROM intake WHERE state=$1 AND "
                               "received_at<$2 ORDER BY id LIMIT $3)",
                               {asInt(IntakeState::Routed), toMs(before), limit})
                           .affected();
    Transaction tx(*c);
    const int batches = pg_batches::prune(*c, toMs(before), limit);
    // Search keys of instances that have neither a job nor an intake record left.
    c->exec("DELETE FROM instance_keys WHERE instance_id IN (SELECT DISTINCT k.instance_id FROM instance_keys k "
            "WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.instance_id=k.instance_id) AND "
            "NOT EXISTS (SELECT 1 FROM intake i WHERE i.instance_id=k.instance_id) LIMIT $1)",
            {limit});
    c->exec("DELETE FROM nodes n WHERE n.heartbeat_at<$1 AND n.name<>$2 AND NOT EXISTS "
            "(SELECT 1 FROM intake i WHERE i.node=n.name AND i.state=$3) AND NOT EXISTS "
            "(SELECT 1 FROM jobs j WHERE j.node=n.name AND j.state=$4)",
            {toMs(before), node_.name, asInt(IntakeState::Routing), asInt(JobState::Sending)});
    tx.commit();
    return intake + batches;
  }

  std::string assignPseudonym(const std::string& project, const std::string& patientKey, const std::string& patientId,
                              const std::string& patientName, const std::string& prefix) override {
    auto c = pool_.take();
    return pg_pseudonyms::assign(*c, project, patientKey, patientId, patientName, prefix, nowMs());
  }

  void recordPseudonym(const PseudonymEntry& entry) override {
    auto c = pool_.take();
    pg_pseudonyms::record(*c, entry, nowMs());
  }

  std::optional<PseudonymEntry> findPseudonym(const std::string& project, const std::string& pseudonym) override {
    auto c = pool_.take();
    return pg_pseudonyms::find(*c, project, pseudonym);
  }

 private:
  int64_t leaseMs() const { return static_cast<int64_t>(node_.lease.count()) * 1000; }

  // Claims in flight whose holder matches `holder` ($2: this node's name,
  // $3: leases that ended before it): counted as interrupted, quarantined at
  // the second interruption in a row, else back to waiting (see recover()).
  // Returns how many went back to waiting.
  int requeueInFlight(Connection& c, const std::string& holder, int64_t endedBefore, int& quarantinedIntake,
                      int& quarantinedJobs) {
    const std::string which = " WHERE state=$1 AND " + holder + " AND lease_until<$3";
    const int64_t routing = asInt(IntakeState::Routing), sending = asInt(JobState::Sending);
    c.exec("UPDATE intake SET interrupted=interrupted+1" + which, {routing, node_.name, endedBefore});
    quarantinedIntake =
        c.exec("UPDATE intake SET state=$4, error=$5" + which + " AND interrupted>=$6",
               {routing, node_.name, endedBefore, asInt(IntakeState::RuleFailed),
                stored::quarantinedRouting(),
                kQuarantineAfter})
            .affected();
    int requeued = c.exec("UPDATE intake SET state=$4" + which, {routing, node_.name, endedBefore, asInt(IntakeState::New)})
                       .affected();
    c.exec("UPDATE jobs SET interrupted=interrupted+1" + which, {sending, node_.name, endedBefore});
    quarantinedJobs =
        c.exec("UPDATE jobs SET state=$4, last_error=$5 || last_error" + which + " AND interrupted>=$6",
               {sending, node_.name, endedBefore, asInt(JobState::Dead),
                stored::quarantinedDelivery(),
                kQuarantineAfter})
            .affected();
    requeued += c.exec("UPDATE jobs SET state=$4" + which, {sending, node_.name, endedBefore, asInt(JobState::Pending)})
                    .affected();
    return requeued;
  }

  // This node's row in `nodes`: written at start (started) and at every heartbeat.
  void beat(int64_t nowMs, bool started) {
    auto c = pool_.take();
    c->exec(std::string("INSERT INTO nodes(name, started_at, heartbeat_at, lease_ms) VALUES($1, $2, $2, $3) "
                        "ON CONFLICT (name) DO UPDATE SET heartbeat_at=excluded.heartbeat_at, lease_ms=excluded.lease_ms") +
                (started ? ", started_at=excluded.started_at" : ""),
            {node_.name, nowMs, leaseMs()});
  }

  // Creates the tables at kSchemaVersion, or upgrades them, in one
  // transaction under the schema lock; refuses a database of a newer release.
  void migrate() {
    auto c = pool_.take();
    Transaction tx(*c);
    c->exec(kSchemaLock);
    const bool fresh = c->exec("SELECT to_regclass('meta') IS NULL").text(0, 0) == "t";
    int version = 0;
    if (!fresh) {
      pg::Result r = c->exec("SELECT value FROM meta WHERE key='schema_version'");
      version = r.empty() ? 0 : std::stoi(r.text(0, 0));
    }
    if (version > kSchemaVersion) {
      throw RouterError("PostgreSQL queue " + pool_.label() + ": written by a newer release (schema version " +
                        std::to_string(version) + ", this release knows up to " + std::to_string(kSchemaVersion) +
                        "); upgrade the appliance or point Router.QueueDatabase elsewhere");
    }
    if (!fresh && version < 3) c->script("ALTER TABLE jobs ADD COLUMN IF NOT EXISTS deidentify TEXT NOT NULL DEFAULT ''");
    c->script(kSchema);
    c->script(pg_batches::kSchema);
    c->script(pg_pseudonyms::kSchema);
    if (storedValue(IntakeState::Routing) != 1 || storedValue(JobState::Sending) != 1) {
      throw RouterError("PostgreSQL queue: the in-flight indexes do not match the stored states");
    }
    c->script(kHeldIndexes);
    c->exec("INSERT INTO meta(key, value) VALUES('schema_version', $1) ON CONFLICT (key) DO UPDATE SET "
            "value=excluded.value",
            {std::to_string(kSchemaVersion)});
    tx.commit();
  }

  const QueueNode node_;
  pg::Pool pool_;
};

}  // namespace

void pg_batches::insertJob(pg::Connection& c, const std::string& instanceId, const std::string& sopInstanceUid,
                           const Route& route, JobState state, int64_t batchId, int64_t sortKey, int64_t nowMs) {
  c.exec("INSERT INTO jobs(instance_id, sop_instance_uid, destination, transfer_syntax, modify, "
         "priority, state, created_at, next_attempt_at, batch_id, sort_key, urgent, deidentify) "
         "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$8,$9,$10,$11,$12)",
         {instanceId, sopInstanceUid, route.destination, route.transferSyntax, stored::encodeEdits(route.modify),
          route.priority, asInt(state), nowMs, batchId, sortKey, route.urgent ? 1 : 0,
          stored::encodeDeidentify(route.deidentify)});
}

std::unique_ptr<Queue> openPostgresQueue(const std::string& uri, const QueueNode& node) {
  return std::make_unique<PostgresQueue>(uri, node);
}

}  // namespace router
