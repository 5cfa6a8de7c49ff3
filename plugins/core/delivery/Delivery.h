// Where an instance leaves: for each destination, "Associations" worker
// threads (one for other types) take its due jobs in priority then arrival
// order, prepare the instance (tag edits, transcoding) and send it through
// their own Destination object. The outcome is classified once by the
// destination (SendOutcome); here the queue acts on it: done, retry later
// with backoff, or dead letter. Destinations never share threads, so a slow or
// dead one does not slow the others.
//
// Thread safety: notify() from any thread; start/stop from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/AuditLog.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/StorageCommitment.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"
#include "transcoders/Transcoder.h"

namespace router {

class Delivery {
 public:
  Delivery(const Config& config, InstanceStore& store, Queue& queue, const Transcoder& transcoder,
           PreparedCache& cache, Log& log, Metrics& metrics, CommitmentReports* commitments = nullptr,
           AuditLog* audit = nullptr);
  ~Delivery();
  void start();
  void stop();
  // New jobs for destination (from routing or the REST API).
  void notify(const std::string& destination);
  // A job was just enqueued: when its route needs a transcode, start it now
  // on the prepare threads (one per core), so that the encodes of one
  // destination run in parallel and ahead of its sender, into the shared
  // cache under the key its delivery will ask for. Skipped when those threads
  // are busy enough; the delivery then transcodes itself, as without this.
  void prepareAhead(const std::string& instanceId, const std::string& storedSyntax, const Route& route);
  void notifyAll();
  // Destinations the circuit breaker holds as down.
  bool isDown(const std::string& destination);
  // An operator's hold (maintenance of the peer): a paused destination takes
  // no job, and its queue waits without using attempts; not kept across a
  // restart. False when there is no such destination.
  bool pause(const std::string& destination, bool paused);
  bool isPaused(const std::string& destination);

 private:
  // Circuit breaker of one destination: after CircuitBreaker.Failures sends
  // in a row that got no answer, the destination is "down": its workers take
  // no job (queued jobs keep their attempts) and one of them probes it every
  // ProbeInterval until it answers.
  struct Breaker {
    std::mutex mutex;
    int failures = 0;
    bool down = false;
    std::chrono::steady_clock::time_point downSince;
    std::chrono::steady_clock::time_point lastProbe;
  };
  struct Lane {
    const DestinationConfig* config = nullptr;
    Wakeup wakeup;
    Breaker breaker;
    std::atomic<bool> paused{false};
    std::vector<std::thread> threads;
  };
  void run(Lane& lane);
  // True when the lane may take jobs; when it is down, probes it if due.
  bool admit(Lane& lane, Destination& destination);
  void recordAnswer(Lane& lane, bool answered);
  // While the lane has been down for its FailoverAfter, moves its waiting
  // jobs to its Failover destination.
  void failOver(Lane& lane);
  // A job made ready to leave: edited and transcoded (shared, cached bytes).
  struct Prepared {
    Job job;
    std::chrono::steady_clock::time_point started;
    PreparedCache::Value edited;  // after tag edits, in the stored syntax
    PreparedCache::Value ready;   // what is sent
    DicomIdentity source;         // of edited
    DicomIdentity identity;       // of ready
    Outgoing outgoing() const {
      return Outgoing{*ready, identity.sopClassUid, identity.sopInstanceUid, identity.transferSyntax};
    }
  };
  // The instance's stored file, and the job's tag edits applied to it (the
  // original itself when there are none); shared through the cache.
  PreparedCache::Value readOriginal(const std::string& instanceId);
  PreparedCache::Value edit(const Job& job, const PreparedCache::Value& original);
  // nullopt when the job cannot be prepared (it is then retried or dead already).
  std::optional<Prepared> prepareJob(const DestinationConfig& config, const Job& job);
  // These return whether the destination answered (for the circuit breaker).
  bool deliver(Destination& destination, const DestinationConfig& config, const Job& job);
  bool deliverBatch(Destination& destination, const DestinationConfig& config, const std::vector<Job>& jobs);
  bool settle(const DestinationConfig& config, const Prepared& prepared, const SendResult& result);
  // A syntax the peer refused (Permanent): sends again in the best one it
  // accepted, replacing result; does nothing for other outcomes.
  void fallBack(Destination& destination, const DestinationConfig& config, Prepared& prepared, SendResult& result);
  void countAssociations(const DestinationConfig& config, const Destination& destination, int before,
                         const SendResult& result);
  // edited in the wanted syntax (itself when no conversion is needed), once
  // per (instance, edits, syntax) whichever destinations want it.
  PreparedCache::Value prepare(const Job& job, const std::string& wanted, const PreparedCache::Value& edited,
                               const std::string& currentSyntax);
  // reason: a fixed word for metrics (connection, status_a7xx, refused, ...).
  void fail(const DestinationConfig& config, const Job& job, const std::string& detail, bool permanent,
            const std::string& reason);

  const Config& config_;
  InstanceStore& store_;
  Queue& queue_;
  const Transcoder& transcoder_;
  PreparedCache& cache_;
  Log& log_;
  Metrics& metrics_;
  CommitmentReports* commitments_;  // for DICOM destinations with StorageCommitment; may be null
  AuditLog* audit_;                 // Router.AuditLog; may be null
  std::atomic<bool> auditFailing_{false};
  void audit(const AuditEntry& entry);
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  // Conversions whose worker crashed in the last 30 s, by cache key, until
  // their delivery meets the failure (see prepare()).
  std::mutex crashedMutex_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, TranscoderCrash>> crashed_;

  struct Ahead {
    std::string instanceId;
    std::string storedSyntax;
    Route route;
  };
  void runAhead();
  std::mutex aheadMutex_;
  std::condition_variable aheadReady_;
  std::deque<Ahead> ahead_;
  bool aheadStopped_ = false;
  std::vector<std::thread> aheadThreads_;
};

}  // namespace router
