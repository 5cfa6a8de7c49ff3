// What happens to an instance before it leaves: its stored file is read, the
// route's tag edits are applied, then its de-identification (deidentify, so
// that no tag edit can put an identity back), and it is transcoded to the
// wanted syntax — each step once per (instance, edits and de-identification,
// syntax) whichever destinations want it, through the shared PreparedCache. A pool of prepare threads (one per
// core) starts the transcodes of newly queued jobs ahead of their senders.
// When a peer refuses the syntax it got, fallbackSyntax() picks another.
//
// A conversion whose worker process crashed is remembered for 30 s (the
// "crash memo"): the delivery that wanted it fails with that reason instead
// of trying it again, so one hostile file costs one worker, not two.
//
// Lifecycle of the prepare-ahead pool (plugins/core/Lifecycle.h): start
// after stop works (new threads); stop interrupts the threads' wait for work
// (a Wakeup) and drops what was queued ahead; a conversion in progress ends
// first. prepare() and the rest work whether the pool runs or not.
//
// Thread safety: every method may be called from any thread (delivery
// workers, the prepare threads, routing's ahead()), start(), stop() and
// state() included. The pool's threads and queue are guarded by one mutex,
// so ahead() may race start() and stop().
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/deid/Projects.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/delivery/SteadyNow.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"
#include "transcoders/Transcoder.h"

namespace router {

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

// Why a job could not be made ready: what its queue entry is to say.
struct PrepareFailure {
  std::string detail;
  bool permanent = false;  // dead letter now, rather than retry
  std::string reason;      // a fixed word for metrics (instance_deleted, tag_edit, ...)
};

// The syntax to fall back to when the peer refused `refused` but accepted
// `accepted` (for this SOP class); empty when none of them will do.
std::string fallbackSyntax(const DestinationConfig& config, const std::vector<std::string>& accepted,
                           const std::string& refused);

class Preparation {
 public:
  // deidentification: the projects routes may name (none when nullptr);
  // pseudonyms: the mapping table (the queue) for their "table" mode and Lookup.
  Preparation(InstanceStore& store, const Transcoder& transcoder, PreparedCache& cache, Metrics& metrics, Log& log,
              SteadyNow now = realSteadyNow(), std::map<std::string, int> lossyQuality = {},
              const DeidentificationConfig* deidentification = nullptr, PseudonymQueue* pseudonyms = nullptr);
  ~Preparation();
  Preparation(const Preparation&) = delete;
  Preparation& operator=(const Preparation&) = delete;

  // The prepare-ahead pool: `threads` threads until stop().
  void start(unsigned threads);
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // A job was just enqueued: when its route needs a transcode, start it now
  // on the prepare threads, into the cache under the key its delivery will
  // ask for. Skipped when those threads are busy enough (or not started);
  // the delivery then transcodes itself.
  void ahead(const std::string& instanceId, const std::string& storedSyntax, const Route& route);

  // The job read, edited and transcoded for the destination, or why not. A
  // failed transcode sends the original under OnTranscodeFailure
  // SendOriginal (said in the log).
  std::variant<Prepared, PrepareFailure> prepare(const DestinationConfig& config, const Job& job);
  // Prepared again from its edited file in another syntax (the negotiation
  // fallback). Throws what the transcode throws; prepared is then unchanged.
  void reencode(Prepared& prepared, const std::string& syntax);

  // The instance's stored file, and the job's tag edits then its
  // de-identification applied to it (the original itself when there are
  // none); shared through the cache. Throws what they throw
  // (deid::DeidentificationRefused, deid::UnknownProjectError, ...).
  PreparedCache::Value readOriginal(const std::string& instanceId);
  PreparedCache::Value edit(const Job& job, const PreparedCache::Value& original);
  // edited in the wanted syntax (itself when no conversion is needed).
  // Throws TranscodeError (TranscoderCrash when the worker died, or when
  // it died on this conversion less than 30 s ago).
  PreparedCache::Value convert(const Job& job, const std::string& wanted, const PreparedCache::Value& edited,
                               const std::string& currentSyntax);

 private:
  void runAhead();
  void rememberCrash(const std::string& key, const TranscoderCrash& crash);

  InstanceStore& store_;
  const Transcoder& transcoder_;
  PreparedCache& cache_;
  Metrics& metrics_;
  Log& log_;
  const SteadyNow now_;
  // Transcoding.Quality: the setting for a lossy target, by its UID.
  const std::map<std::string, int> lossyQuality_;
  deid::Projects projects_;

  // Conversions whose worker crashed in the last 30 s, by cache key, until
  // their delivery meets the failure (see convert()).
  std::mutex crashedMutex_;
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, TranscoderCrash>> crashed_;

  struct Ahead {
    std::string instanceId;
    std::string storedSyntax;
    Route route;
  };
  Wakeup aheadWakeup_;  // notified for each job queued ahead
  std::mutex aheadMutex_;  // guards the two below; ahead_ is empty while no thread runs
  std::deque<Ahead> ahead_;
  std::vector<std::thread> aheadThreads_;
  Lifecycle lifecycle_;
};

}  // namespace router
