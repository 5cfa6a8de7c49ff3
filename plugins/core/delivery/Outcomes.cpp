#include "plugins/core/delivery/Outcomes.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "plugins/core/Error.h"
#include "plugins/core/delivery/Backoff.h"
#include "transcoders/TransferSyntax.h"

namespace router {

OutcomeEvent forJob(const std::string& destination, const Job& job) {
  OutcomeEvent event;
  event.destination = destination;
  event.job = job.id;
  event.instanceId = job.instanceId;
  event.sopInstanceUid = job.sopInstanceUid;
  event.attempt = job.attempts;
  return event;
}

Outcomes::Outcomes(const Config& config, DeliveryQueue& queue, InstanceStore& store, PreparedCache& cache,
                   Metrics& metrics, Log& log, AuditLog* audit, std::function<bool(const std::string&)> held)
    : config_(config), queue_(queue), store_(store), cache_(cache), metrics_(metrics), log_(log), audit_(audit),
      held_(std::move(held)) {}

void Outcomes::record(const OutcomeEvent& event) {
  if (event.outcome == SendOutcome::Delivered) {
    delivered(event);
    return;
  }
  if (event.answered) metrics_.destinationUp(event.destination, *event.answered);
  failed(event);
}

void Outcomes::delivered(const OutcomeEvent& event) {
  const std::string syntax = transferSyntaxName(event.transferSyntax);
  metrics_.delivered(event.destination, syntax, event.bytes, event.duration, event.warning);
  if (event.answered) metrics_.destinationUp(event.destination, *event.answered);
  InstanceLeft left = queue_.completeJob(event.job);
  const bool last = left.jobs == 0;
  // Every destination has it, or those still waiting are down or paused
  // (their jobs will read it again when they are back): make room for the
  // instances still coming.
  auto held = [&](const std::string& destination) { return held_ && held_(destination); };
  if (std::all_of(left.waitingFor.begin(), left.waitingFor.end(), held)) cache_.forgetInstance(event.instanceId);

  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(event.duration).count();
  // Audit line: identifiers only, never patient names.
  AuditEntry entry;
  entry.outcome = "delivered";
  entry.job = event.job;
  entry.destination = event.destination;
  entry.sopInstanceUid = event.sopInstanceUid;
  entry.instanceId = event.instanceId;
  entry.transferSyntax = syntax;
  entry.bytes = event.bytes;
  entry.milliseconds = ms;
  entry.attempt = event.attempt;
  entry.detail = event.warning ? event.detail : "";
  audit(entry);
  log_.info("delivered job=" + std::to_string(event.job) + " destination=" + event.destination +
            " sop=" + event.sopInstanceUid + " syntax=" + syntax + " bytes=" + std::to_string(event.bytes) +
            " ms=" + std::to_string(ms) + " attempt=" + std::to_string(event.attempt) +
            (event.warning ? " warning=" + event.detail : ""));
  if (const std::optional<Batch>& batch = left.batchDelivered; batch && batch->releasedAt && batch->deliveredAt) {
    const auto sending = std::chrono::duration<double>(*batch->deliveredAt - *batch->releasedAt);
    const auto overall = std::chrono::duration<double>(*batch->deliveredAt - batch->firstAt);
    metrics_.batchDelivered(batch->destination, toString(batch->level), sending);
    log_.info(std::string("batches: ") + toString(batch->level) + " " + batch->uid + " delivered to " +
              batch->destination + " (" + std::to_string(batch->instances) + " instance(s), " +
              std::to_string(static_cast<long long>(sending.count() * 1000)) + " ms after its release, " +
              std::to_string(static_cast<long long>(overall.count())) + " s after its first instance)");
  }
  if (last && config_.deleteAfterDelivery) {
    try {
      queue_.flush();  // the completion must outlive a power loss before the instance goes
      store_.deleteInstance(event.instanceId);
    } catch (const std::exception& e) {
      log_.warning("delivered everywhere but cannot delete instance " + event.instanceId + ": " + e.what());
    }
  }
}

void Outcomes::failed(const OutcomeEvent& event) {
  auto destination = config_.destinations.find(event.destination);
  if (destination == config_.destinations.end()) {
    throw RouterError("delivery outcome for " + event.destination + ", which is not a destination");
  }
  const RetryPolicy& retry = destination->second.retry;
  const bool permanent = event.outcome == SendOutcome::Permanent;
  AuditEntry entry;
  entry.job = event.job;
  entry.destination = event.destination;
  entry.sopInstanceUid = event.sopInstanceUid;
  entry.instanceId = event.instanceId;
  entry.attempt = event.attempt;

  thread_local std::mt19937_64 random{std::random_device{}()};
  if (!permanent && event.attempt < retry.maxAttempts) {
    auto delay = backoffDelay(retry, event.attempt, random);
    queue_.retryJob(event.job, event.detail, Clock::now() + delay);
    metrics_.retried(event.destination, event.reason);
    entry.outcome = "retry";
    entry.detail = event.detail;
    audit(entry);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(delay.count()) / 1000.0);
    log_.warning("delivery to " + event.destination + " failed (job " + std::to_string(event.job) + ", attempt " +
                 std::to_string(event.attempt) + "), retrying in " + seconds + " s: " + event.detail);
    return;
  }
  std::string why =
      permanent ? event.detail : "gave up after " + std::to_string(event.attempt) + " attempts: " + event.detail;
  queue_.killJob(event.job, why);
  metrics_.deadLettered(event.destination, permanent ? event.reason : "max_attempts");
  entry.outcome = "dead";
  entry.detail = why;
  audit(entry);
  log_.error("delivery to " + event.destination + ": job " + std::to_string(event.job) + " (SOP " +
             event.sopInstanceUid + ") moved to dead letters: " + why + "; once fixed: " + log_.howTo(OperatorAction::RetryJob, event.job));
}

void Outcomes::failedOver(const DestinationConfig& from, int moved, Metrics::Duration downFor) {
  metrics_.failedOver(from.name, from.failover, moved);
  AuditEntry entry;
  entry.outcome = "failed-over";
  entry.destination = from.name;
  entry.detail = std::to_string(moved) + " waiting jobs moved to " + from.failover;
  audit(entry);
  log_.warning("destination " + from.name + " down for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(downFor).count()) + " s: " +
               std::to_string(moved) + " waiting jobs moved to its failover " + from.failover);
}

void Outcomes::audit(const AuditEntry& entry) {
  if (audit_ == nullptr) return;
  bool ok = audit_->record(entry);
  // Said once when writing starts failing, and once when it works again.
  if (auditFailing_.exchange(!ok) != !ok) {
    if (ok) {
      log_.warning("audit log " + audit_->path() + " is written again");
    } else {
      log_.error("audit log " + audit_->path() + ": cannot write (" + std::strerror(errno) +
                 "); delivery goes on, outcomes are only in this log until it is fixed");
    }
  }
}

}  // namespace router
