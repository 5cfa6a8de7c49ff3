// The durable queue: instances taken in from Orthanc's changes log and waiting
// to be routed (intake), and one job per (instance, destination) waiting to be
// delivered. SQLite (WAL) is the embedded backend (SqliteQueue.cpp); another
// (PostgreSQL with SKIP LOCKED) implements the same interfaces and passes the
// same contract suite (tests/unit/queue_contract_test.cpp). Backend-neutral
// code (state names) lives in Queue.cpp.
//
// Thread safety: every method may be called from any thread at once;
// implementations keep each call one short transaction (SQLite serialises
// the calls on one connection, PostgreSQL lends each call a pooled one).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/model/Route.h"

namespace router {

using Clock = std::chrono::system_clock;  // persisted times are wall-clock (ms since epoch)

// A NewInstance entry of Orthanc's changes log.
struct Change {
  int64_t seq = 0;
  std::string instanceId;
};

enum class IntakeState { New, Routing, Routed, RuleFailed };
// Held: waiting for its series or study to be complete (a batch), then Pending.
enum class JobState { Pending, Sending, Failed, Dead, Held };
inline constexpr JobState kJobStates[] = {JobState::Pending, JobState::Sending, JobState::Failed, JobState::Dead,
                                          JobState::Held};

std::string toString(IntakeState state);
std::string toString(JobState state);
std::optional<JobState> parseJobState(const std::string& text);
// The one checked mapping between states and their stored numbers; throws
// RouterError on a number no release wrote (a corrupt or foreign file).
int64_t storedValue(IntakeState state);
int64_t storedValue(JobState state);
IntakeState intakeStateFromStored(int64_t value);
JobState jobStateFromStored(int64_t value);

struct IntakeItem {
  int64_t id = 0;
  int64_t changeSeq = 0;
  std::string instanceId;
  IntakeState state = IntakeState::New;
  std::string error;
  int attempts = 0;  // routing attempts (reading the instance can fail transiently)
};

struct Job {
  int64_t id = 0;
  std::string instanceId;
  std::string sopInstanceUid;
  Route route;
  JobState state = JobState::Pending;
  int attempts = 0;
  Clock::time_point createdAt;
  Clock::time_point nextAttemptAt;
  std::string lastError;
};

// What routing knows of an instance when it records its routes: enough to
// put a route that waits for its series or study into the right batch, in
// series and instance order.
struct RoutedInstance {
  RoutedInstance() = default;
  RoutedInstance(std::string sop) : sopInstanceUid(std::move(sop)) {}  // NOLINT: the instance-level case
  RoutedInstance(const char* sop) : sopInstanceUid(sop) {}              // NOLINT
  std::string sopInstanceUid;
  std::string studyInstanceUid, seriesInstanceUid;
  int seriesNumber = 0, instanceNumber = 0;
  std::string sender;  // calling AE title (or how it came in)
  std::vector<std::string> searchKeys{};  // SearchKeys.h: how its jobs are found
};

// A series or study waiting for completion, for one destination. Waiting:
// its jobs are held until it is complete; OnHold: an operator holds it (no
// completion releases it); Released: its jobs are due; Delivered: all sent;
// Cancelled: an operator dropped its held jobs.
enum class BatchState { Waiting, OnHold, Released, Delivered, Cancelled };
inline constexpr BatchState kBatchStates[] = {BatchState::Waiting, BatchState::OnHold, BatchState::Released,
                                              BatchState::Delivered, BatchState::Cancelled};
// Those still to be sent, counted by status and metrics.
inline constexpr BatchState kOpenBatchStates[] = {BatchState::Waiting, BatchState::OnHold, BatchState::Released};
std::string toString(BatchState state);
std::optional<BatchState> parseBatchState(const std::string& text);

struct Batch {
  int64_t id = 0;
  RouteLevel level = RouteLevel::Series;
  std::string uid;  // SeriesInstanceUID or StudyInstanceUID
  std::string studyInstanceUid;
  std::string destination;
  BatchState state = BatchState::Waiting;
  Clock::time_point firstAt, lastAt;  // first and last instance taken in
  std::optional<Clock::time_point> releasedAt, deliveredAt;
  int instances = 0;      // routed into it so far
  int expected = 0;       // 0: no count known
  int jobsLeft = 0;       // not yet delivered (dead letters included)
  std::chrono::seconds quiet{0}, maxWait{0};
  std::vector<std::string> senders;
  // "quiet time", "required series and quiet time", "expected count", "maximum wait", "operator"
  std::string releasedBecause;
  bool late = false;            // opened by an instance that came after an earlier release
  // A study route's required series (Requirement::describe), present or not yet.
  std::vector<std::string> requiredPresent, requiredMissing;
};

// One series of a batch: its SeriesInstanceUID, how many of its instances
// the batch holds, and the Orthanc id of the first (series and instance order).
struct BatchSeries {
  std::string uid;
  int instances = 0;
  std::string firstInstanceId;
};

// What is left of an instance once one of its jobs is delivered.
struct InstanceLeft {
  int jobs = 0;                          // its jobs still queued, dead letters included (0: everywhere)
  std::vector<std::string> waitingFor;   // destinations of those not dead letters, once each
  std::optional<Batch> batchDelivered;   // the job was the last of its series or study
};

struct JobFilter {
  std::string destination;          // empty = all
  std::optional<JobState> state;    // nullopt = all
  int64_t afterId = 0;              // paging: jobs with id > afterId
  int limit = 100;
  // Exact PatientID, AccessionNumber, StudyInstanceUID or SOPInstanceUID of
  // the job's instance (SearchKeys.h); empty = all.
  std::string search{};
};

struct QueueDepth {
  std::map<std::string, std::map<JobState, int64_t>> jobs;  // destination -> state -> count
  std::map<std::string, std::map<BatchState, int64_t>> batches;  // destination -> state -> count (not delivered)
  std::map<std::string, Clock::time_point> oldestPending;  // destination -> oldest waiting job
  std::map<IntakeState, int64_t> intake;                   // New, Routing, RuleFailed
};

// Who holds a claim when several appliances share one queue (PostgreSQL):
// what a node claims (claimIntake, claimJob) is held under its name until
// `lease` after the claim or the last heartbeat() renewing it.
struct QueueNode {
  std::string name = "local";
  std::chrono::seconds lease{60};
};

// A node of the queue as the others see it (AdminQueue::nodes()).
struct NodeState {
  std::string name;
  Clock::time_point startedAt, lastHeartbeat;
  std::chrono::seconds lease{0};
  int64_t intakeHeld = 0;  // instances it is routing
  int64_t jobsHeld = 0;    // jobs it is sending
  bool alive = true;       // its last heartbeat is within its lease
};

// What heartbeat() did.
struct Heartbeat {
  int renewed = 0;      // this node's claims whose lease went on
  int takenOver = 0;    // other nodes' expired claims taken back
  int quarantined = 0;  // of those, in flight at two stops in a row (see recover()); the rest wait again
};

// What recover() found left in flight by a process that stopped.
struct Recovery {
  int requeued = 0;           // back to waiting (Routing -> New, Sending -> Pending)
  int quarantinedIntake = 0;  // -> RuleFailed: in flight at two stops in a row
  int quarantinedJobs = 0;    // -> Dead: likewise
};

// The queue as each stage sees it: intake records what Orthanc stored,
// routing turns it into jobs, delivery works the jobs off, and operations
// (REST API, status, start-up) look at and repair everything. Each consumer
// depends on its role only; a backend implements Queue, i.e. all four.
// Every method is one short transaction.

class IntakeQueue {
 public:
  virtual ~IntakeQueue() = default;
  // The last change of Orthanc's log taken in; nullopt on a new queue.
  virtual std::optional<int64_t> lastChangeSeq() = 0;
  // Records the NewInstance changes and the new last sequence in one
  // transaction. A change already recorded (same seq) is ignored. With
  // skipKnownInstances, an instance id already taken in before (and still
  // within the history's retention) is not taken in again.
  virtual int recordChanges(const std::vector<Change>& changes, int64_t lastSeq,
                            bool skipKnownInstances) = 0;
};

class RoutingQueue {
 public:
  virtual ~RoutingQueue() = default;
  virtual std::optional<IntakeItem> claimIntake() = 0;  // New -> Routing
  // Routing -> Routed, and its jobs enqueued, in one transaction. A route
  // with when = series/study puts a held job into the waiting batch of
  // (level, UID, destination), opening one if there is none (a late arrival
  // after a release follows the route's LatePolicy).
  virtual void finishRouting(int64_t intakeId, const RoutedInstance& instance, const std::vector<Route>& routes) = 0;
  virtual void failRouting(int64_t intakeId, const std::string& error) = 0;  // -> RuleFailed
  // Routing could not start (instance unreadable for now) or its outcome
  // could not be recorded: Routing -> New, retried later. An item no longer
  // Routing is left as it is.
  virtual void postponeRouting(int64_t intakeId, const std::string& error) = 0;

  // Study-level decisions: a route to kStudyDecision puts the instance into
  // its study's decision batch, which holds members and no jobs. Once it is
  // released, routing calls route_study() and records the answer:
  // Released decisions, oldest first, at most limit.
  virtual std::vector<Batch> studiesToDecide(int limit) = 0;
  // Its series, in series order.
  virtual std::vector<BatchSeries> batchSeries(int64_t batchId) = 0;
  // In one transaction: for each route a released study batch for its
  // destination with one job per member (of route.series, if named), and the
  // decision delivered. False if it is no longer a released decision.
  virtual bool decideStudy(int64_t batchId, const std::vector<Route>& routes, Clock::time_point now) = 0;
  // route_study() failed: the decision goes on hold with the reason; an
  // operator's release decides it again.
  virtual bool holdStudyDecision(int64_t batchId, const std::string& reason) = 0;
};

class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;
  // The next due job of a destination (Pending, or Failed whose retry time has
  // come), highest priority first, then by batch and place in it, then
  // oldest; -> Sending, attempts + 1. urgentOnly: only urgent routes' jobs
  // (the destination's delivery window is closed).
  virtual std::optional<Job> claimJob(const std::string& destination, bool urgentOnly) = 0;
  std::optional<Job> claimJob(const std::string& destination) { return claimJob(destination, false); }
  // When the next Failed job of the destination is due, if any.
  virtual std::optional<Clock::time_point> nextRetry(const std::string& destination) = 0;
  // Delivered: the job is removed. Returns what is left of its instance.
  virtual InstanceLeft completeJob(int64_t jobId) = 0;
  virtual void retryJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) = 0;
  virtual void killJob(int64_t jobId, const std::string& error) = 0;  // -> Dead
  // A worker could not record the outcome of a job it claimed (the queue
  // itself failed, e.g. a full disk): Sending -> Failed, due at nextAttempt.
  // A job no longer Sending (completed, dead) is left as it is.
  virtual void releaseJob(int64_t jobId, const std::string& error, Clock::time_point nextAttempt) = 0;
  // Failover: every waiting job (Pending, Failed) of `from` becomes a Pending
  // job of `to`, attempts 0, its last error saying where it came from.
  virtual int moveWaitingJobs(const std::string& from, const std::string& to, const std::string& note) = 0;
  // Makes every change committed so far durable against a power loss
  // (commits are always durable against a crash of the process).
  virtual void flush() = 0;
};

// Series and studies waiting for completion (Completion thread, operators).
class BatchQueue {
 public:
  virtual ~BatchQueue() = default;
  // Releases every waiting batch that is complete at `now` (its held jobs
  // become Pending, in series and instance order), in one transaction.
  // Returns the released ones, and in nextDue when the next waiting batch
  // becomes complete by time (nullopt: none waits).
  virtual std::vector<Batch> releaseDue(Clock::time_point now, std::optional<Clock::time_point>& nextDue) = 0;
  // Operators: force completion now (Waiting/OnHold -> Released), hold
  // (Waiting -> OnHold), let completion apply again (OnHold -> Waiting),
  // cancel (Waiting/OnHold -> Cancelled, its held jobs removed). False when
  // the batch is not in a state the action applies to.
  virtual bool releaseBatch(int64_t batchId, Clock::time_point now) = 0;
  virtual bool holdBatch(int64_t batchId) = 0;
  virtual bool resumeBatch(int64_t batchId) = 0;
  virtual bool cancelBatch(int64_t batchId) = 0;
  virtual std::optional<Batch> getBatch(int64_t batchId) = 0;
  // Newest first; nullopt = every state.
  virtual std::vector<Batch> listBatches(std::optional<BatchState> state, int limit) = 0;
};

class AdminQueue {
 public:
  virtual ~AdminQueue() = default;
  // At start: work left half-done by a stop goes back to its waiting state
  // (Routing -> New, Sending -> Pending), unless the same item was in flight
  // when the process stopped the time before too: it may be what stops the
  // process (a crash in a library, the OOM killer), so it is quarantined
  // (intake -> RuleFailed, job -> Dead) with the reason, never retried into
  // a crash loop. An item that ends normally in between starts counting
  // again. Only this node's work (QueueNode): other nodes' claims are theirs
  // until their lease expires (heartbeat()).
  virtual Recovery recover() = 0;
  // Every lease/3 or so: renews the lease of what this node holds, and takes
  // back what other nodes left in flight past its lease (a node that died),
  // as recover() does for the node's own: back to waiting, or quarantined
  // when its second holder died too. A queue of one node (SQLite) renews
  // nothing and finds nothing expired.
  virtual Heartbeat heartbeat(Clock::time_point now) = 0;
  // The nodes using the queue, by name: each one's start, last heartbeat and
  // what it holds. A queue of one node (SQLite) lists this node. A node
  // gone quiet stays listed (not alive) until pruneHistory() forgets it.
  virtual std::vector<NodeState> nodes(Clock::time_point now) = 0;
  virtual int rerouteFailed() = 0;  // RuleFailed -> New
  virtual std::vector<IntakeItem> listIntake(IntakeState state, int limit) = 0;
  virtual std::optional<Job> getJob(int64_t jobId) = 0;
  virtual std::vector<Job> listJobs(const JobFilter& filter) = 0;
  virtual bool retryJobNow(int64_t jobId) = 0;  // Failed/Dead -> Pending, attempts 0
  virtual bool purgeJob(int64_t jobId) = 0;
  virtual int retryDead(const std::string& destination) = 0;
  virtual int purgeDead(const std::string& destination) = 0;
  virtual QueueDepth depth() = 0;
  // Forgets routed intake items taken in before `before`, and delivered or
  // cancelled batches (with their members) that ended before it: at most
  // `limit` of each per call. Jobs are removed when delivered already, and
  // dead letters and rule-failed items stay until an operator acts; nodes
  // whose last heartbeat is older and that hold nothing. Returns how many
  // went (intake items and batches).
  virtual int pruneHistory(Clock::time_point before, int limit) = 0;
};

// The re-identification table of de-identification projects: which patient
// each pseudonym stands for, per project (Router.Deidentification). Kept in
// the queue database so that every appliance sharing a queue shares it.
struct PseudonymEntry {
  std::string project;
  std::string pseudonym;
  std::string patientKey;  // what the pseudonym derives from (DeidResult::patientKey)
  std::string patientId, patientName;
  Clock::time_point firstSeen, lastSeen;
};

class PseudonymQueue {
 public:
  virtual ~PseudonymQueue() = default;
  // The pseudonym of (project, patientKey): the one recorded, or else
  // prefix + the project's next number as 6 digits ("TRIAL1-000042"),
  // recorded with id and name, in one transaction (two threads asking for
  // the same new patient get the same pseudonym).
  virtual std::string assignPseudonym(const std::string& project, const std::string& patientKey,
                                      const std::string& patientId, const std::string& patientName,
                                      const std::string& prefix) = 0;
  // Records (or refreshes lastSeen of) a pseudonym made elsewhere (keyed).
  virtual void recordPseudonym(const PseudonymEntry& entry) = 0;
  virtual std::optional<PseudonymEntry> findPseudonym(const std::string& project, const std::string& pseudonym) = 0;
};

class Queue : public IntakeQueue,
              public RoutingQueue,
              public DeliveryQueue,
              public BatchQueue,
              public AdminQueue,
              public PseudonymQueue {};

// The queue named by Router.QueueDatabase: a postgresql:// (or postgres://)
// URI is the shared PostgreSQL queue, anything else the file of the embedded
// SQLite queue (created if needed). Throws RouterError naming what is wrong.
std::unique_ptr<Queue> openQueue(const std::string& database, const QueueNode& node = {});
bool isPostgresUri(const std::string& database);
// How logs and status name the queue database: a URI without its password.
std::string describeQueueDatabase(const std::string& database);

// Connects to the PostgreSQL queue at uri (a libpq connection URI), creating
// or upgrading its tables. Throws RouterError.
std::unique_ptr<Queue> openPostgresQueue(const std::string& uri, const QueueNode& node);

// Opens (creating if needed) the SQLite queue at path. Throws RouterError.
std::unique_ptr<Queue> openSqliteQueue(const std::string& path, const QueueNode& node = {});

}  // namespace router
