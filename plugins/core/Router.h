// The root object of the appliance. Built from a validated Config; owns the
// queue, the rules in force, the transcoder worker pool and the three stages
// (intake, routing, delivery). Its threads and worker processes start on
// start() (Orthanc's OrthancStarted) and end on stop().
//
// Lifecycle (plugins/core/Lifecycle.h; the Router and each component below
// have one: created, running, stopping, stopped). Consumers start before
// their producers and stop after them, so nothing is handed to a stage that
// does not run:
//   start: queue recovery, intake anchor, transcoder workers, delivery (with
//          its prepare-ahead pool), batch releaser, routing, intake, rules
//          watcher, history pruner;
//   stop:  the reverse — history pruner, rules watcher, intake, routing,
//          batch releaser, delivery, transcoder workers.
// Each component's stop interrupts the idle, backoff and prepare-ahead waits
// of its threads (its Wakeups) and joins them; work in progress (a send, a
// conversion, a wait for a free worker process) ends first. Start after stop
// works: each component starts again (new threads and workers), after the
// queue recovery of a process start.
//
// Thread safety: every public method may be called from any thread (REST
// handlers, the OnChange callback, Finalize; the lifecycle lets one start()
// or stop() run at a time); the stages synchronise through the queue and
// their Wakeups.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lua/RuleEngine.h"
#include "plugins/core/batches/BatchReleaser.h"
#include "plugins/core/HostTranscoding.h"
#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Operations.h"
#include "plugins/core/RouterStatus.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/Delivery.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/intake/Intake.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/HistoryPruner.h"
#include "plugins/core/queue/LeaseKeeper.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/routing/RuleBook.h"
#include "plugins/core/routing/Routing.h"
#include "plugins/core/routing/RulesWatcher.h"
#include "transcoders/Transcoder.h"
#include "transcoders/worker/WorkerPool.h"

namespace router {

// What the rules test answers for several files: each one's routes, and
// route_study()'s decision on each study they make up.
struct StudyTest {
  struct Instance {
    std::string sopInstanceUid;
    RouteDecision decision;
  };
  struct Study {
    StudySummary summary;
    RouteDecision decision;
  };
  std::vector<Instance> instances;
  std::vector<Study> studies;
};

class Router {
 public:
  // Opens the queue and compiles the rules: throws ConfigError naming what is
  // wrong, before any thread runs.
  // commitments: where storage commitment reports that reached Orthanc can be
  // read (DICOM destinations with "StorageCommitment"); null in tests.
  Router(Config config, InstanceStore& store, Log& log, CommitmentReports* commitments = nullptr);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // Orthanc stored an instance: its stored-instance callback (onStored) comes
  // soon if it did not already, so routing waits for that copy of the file
  // rather than read it back. Intake itself comes from the changes log.
  void onNewInstance(const std::string& instanceId) {
    cache_.expect(cachekey::file(instanceId));
    intake_.wake();
  }
  // The file Orthanc has just stored, offered ahead of routing: kept (one
  // copy) only while the cache has room, so routing and delivery need not
  // read it back from Orthanc. Where it came from is kept with it.
  void onStored(const std::string& instanceId, const char* data, size_t size, const Origin& origin) {
    std::string line = encodeOrigin(origin);
    cache_.offer(cachekey::origin(instanceId), line.data(), line.size());
    if (size <= kMaxOffered) {
      cache_.offer(cachekey::file(instanceId), data, size);
    } else {
      cache_.decline(cachekey::file(instanceId));
    }
  }

  // --- what the REST API (plugins/orthanc) reads and does
  RouterStatus status();
  // Prometheus text exposition.
  std::string metricsText();
  const Config& config() const { return config_; }
  Operations& operations() { return operations_; }
  // The routes the rules in force give for a file; nothing is queued or sent.
  RouteDecision testRoute(const std::string& part10, const Origin& origin);
  // The same for several files: each one's routes, and with route_study()
  // the decision on each study they make up, as if each were complete.
  StudyTest testStudy(const std::vector<std::string>& files, const Origin& origin);
  // Orthanc's own transcoding, in the router's workers (HostTranscoding.h).
  const HostTranscoding& hostTranscoding() const { return host_; }

 private:
  // The start and the stop in the orders above (through lifecycle_).
  void begin();
  void halt();
  Config config_;
  InstanceStore& store_;
  Log& log_;
  CommitmentReports* commitments_;
  Metrics metrics_;
  std::unique_ptr<AuditLog> audit_;  // Router.AuditLog, if set
  std::unique_ptr<Queue> queue_;
  // Every conversion runs in its worker processes, never in Orthanc's.
  WorkerPool transcoder_;
  HostTranscoding host_;
  // Enough for the working set of a burst (~190 CT slices of 512 KiB);
  // past it a delivery reads the file from Orthanc again.
  PreparedCache cache_{96u << 20};
  // Bigger files (long multi-frames) are not copied on Orthanc's C-STORE thread.
  static constexpr size_t kMaxOffered = 16u << 20;
  RuleBook rules_;
  Wakeup routingWakeup_;
  Intake intake_;
  Delivery delivery_;
  BatchReleaser batches_;  // series and studies: held until complete
  Routing routing_;
  RulesWatcher watcher_;
  HistoryPruner history_;
  LeaseKeeper leases_;  // this node's claims on a shared queue
  Lifecycle lifecycle_;  // its state is read by REST threads (status)
  Operations operations_;
};

}  // namespace router
