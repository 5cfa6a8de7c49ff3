// Where the outcome of a delivery goes: one OutcomeEvent per job (sent, or
// failed before it could be sent) is fanned out to the queue (done, retry
// with backoff, or dead letter), the metrics, the audit log and Orthanc's
// log, always in that order and all from here, so that the four never tell
// different stories. A failover (jobs moved to another destination) is
// recorded here too.
//
// Thread safety: every method may be called from any thread (the queue,
// metrics, audit log and log are themselves safe to share).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "plugins/core/Log.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/AuditLog.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"

namespace router {

// What became of one job. Built with named fields: start from forJob().
struct OutcomeEvent {
  std::string destination;
  int64_t job = 0;
  std::string instanceId;      // Orthanc's id
  std::string sopInstanceUid;  // of what was sent (a lossy transcode has its own), else the job's
  int attempt = 0;             // this one (1 = first)
  // Delivered, Retry (becomes a dead letter once MaxAttempts are used) or
  // Permanent (a dead letter now).
  SendOutcome outcome = SendOutcome::Delivered;
  std::string reason;  // a fixed word for metrics: connection, status_a7xx, refused, tag_edit, ...
  std::string detail;  // what happened, for people; a delivery's warning
  bool warning = false;  // delivered with a warning status
  // Whether the destination answered, when it was sent to (destination_up);
  // nullopt when the job failed before a send.
  std::optional<bool> answered;
  // Delivered:
  std::string transferSyntax;  // UID of what was sent
  size_t bytes = 0;
  Metrics::Duration duration{};  // preparing and sending
};

// The event's identifying fields filled in from the job.
OutcomeEvent forJob(const std::string& destination, const Job& job);

class Outcomes {
 public:
  // held(destination): whether that destination's jobs wait now (it is down
  // or paused), so that a delivered instance's cached files need not be
  // kept for it (none is when held is empty). audit may be null (no
  // Router.AuditLog).
  Outcomes(const Config& config, DeliveryQueue& queue, InstanceStore& store, PreparedCache& cache, Metrics& metrics,
           Log& log, AuditLog* audit, std::function<bool(const std::string& destination)> held);

  void record(const OutcomeEvent& event);
  // `moved` waiting jobs of `from`, down for `downFor`, went to its failover.
  void failedOver(const DestinationConfig& from, int moved, Metrics::Duration downFor);

 private:
  void delivered(const OutcomeEvent& event);
  void failed(const OutcomeEvent& event);
  void audit(const AuditEntry& entry);

  const Config& config_;
  DeliveryQueue& queue_;
  InstanceStore& store_;
  PreparedCache& cache_;
  Metrics& metrics_;
  Log& log_;
  AuditLog* audit_;
  std::atomic<bool> auditFailing_{false};
  std::function<bool(const std::string&)> held_;
};

}  // namespace router
