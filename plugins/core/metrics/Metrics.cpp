#include "plugins/core/metrics/Metrics.h"

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace router {

namespace {
double seconds(Metrics::Duration d) { return std::chrono::duration<double>(d).count(); }

// Rule evaluation is microseconds; sends and transcodes are milliseconds to seconds.
const prometheus::Histogram::BucketBoundaries kRuleBuckets = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                                              0.0005,  0.001,    0.0025,  0.01};
// A series or study completes in seconds to hours (quiet times, maximum waits).
const prometheus::Histogram::BucketBoundaries kCompletionBuckets = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200,
                                                                    21600, 86400};
// A released batch is sent in well under a second to hours (a peer down).
const prometheus::Histogram::BucketBoundaries kSendingBuckets = {0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600};
const prometheus::Histogram::BucketBoundaries kIoBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25,  0.5,    1,     2.5,  5,    10,   30};
}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : received(prometheus::BuildCounter()
                     .Name("orthanc_router_instances_received_total")
                     .Help("Instances taken in from Orthanc's changes log")
                     .Register(r)
                     .Add({})),
        routes(prometheus::BuildCounter()
                   .Name("orthanc_router_routes_total")
                   .Help("Routes decided by the rules, by destination")
                   .Register(r)),
        ruleEvaluations(prometheus::BuildHistogram()
                            .Name("orthanc_router_rule_evaluation_duration_seconds")
                            .Help("Time to evaluate route(instance) for one instance")
                            .Register(r)
                            .Add({}, kRuleBuckets)),
        ruleErrors(prometheus::BuildCounter()
                       .Name("orthanc_router_rule_errors_total")
                       .Help("Rule evaluations that failed (error, budget, malformed result), by rule file")
                       .Register(r)),
        jobs(prometheus::BuildCounter()
                 .Name("orthanc_router_jobs_total")
                 .Help("Delivery attempts by destination and outcome (delivered, retried, dead)")
                 .Register(r)),
        retries(prometheus::BuildCounter()
                    .Name("orthanc_router_retries_total")
                    .Help("Failed deliveries scheduled for a retry, by destination and reason")
                    .Register(r)),
        deadLetters(prometheus::BuildCounter()
                        .Name("orthanc_router_dead_letters_total")
                        .Help("Jobs moved to the dead letters, by destination and reason")
                        .Register(r)),
        bytes(prometheus::BuildCounter()
                  .Name("orthanc_router_sent_bytes_total")
                  .Help("Bytes of DICOM delivered, by destination and transfer syntax")
                  .Register(r)),
        sendDuration(prometheus::BuildHistogram()
                         .Name("orthanc_router_send_duration_seconds")
                         .Help("Time to deliver one instance (read, edit, transcode, send), by destination")
                         .Register(r)),
        transcodeDuration(prometheus::BuildHistogram()
                              .Name("orthanc_router_transcode_duration_seconds")
                              .Help("Time to transcode one instance, by target transfer syntax")
                              .Register(r)),
        transcodeFailures(prometheus::BuildCounter()
                              .Name("orthanc_router_transcode_failures_total")
                              .Help("Transcodes that failed, by target transfer syntax")
                              .Register(r)),
        transcoderCrashes(prometheus::BuildCounter()
                              .Name("orthanc_router_transcoder_crashes_total")
                              .Help("Transcoder worker processes that died, timed out or went over their memory "
                                    "limit, by target transfer syntax and kind (crash, timeout, memory)")
                              .Register(r)),
        quarantined(prometheus::BuildCounter()
                        .Name("orthanc_router_quarantined_total")
                        .Help("Instances set aside because the appliance stopped twice while handling them, "
                              "by stage (routing: rule-failed; delivery: dead letter)")
                        .Register(r)),
        associations(prometheus::BuildCounter()
                         .Name("orthanc_router_association_attempts_total")
                         .Help("DICOM associations opened, by destination and outcome (ok, failed)")
                         .Register(r)),
        failovers(prometheus::BuildCounter()
                      .Name("orthanc_router_failover_jobs_total")
                      .Help("Jobs moved to a destination's Failover while it was down, by destination and failover")
                      .Register(r)),
        queueJobs(prometheus::BuildGauge()
                      .Name("orthanc_router_queue_jobs")
                      .Help("Jobs in the queue, by destination and state")
                      .Register(r)),
        oldestJobAge(prometheus::BuildGauge()
                         .Name("orthanc_router_oldest_job_age_seconds")
                         .Help("Age of the oldest job not yet delivered (dead letters excluded), by destination")
                         .Register(r)),
        intake(prometheus::BuildGauge()
                   .Name("orthanc_router_intake_instances")
                   .Help("Instances waiting to be routed or left rule-failed, by state")
                   .Register(r)),
        up(prometheus::BuildGauge()
               .Name("orthanc_router_destination_up")
               .Help("1 when the destination's last delivery or probe succeeded, 0 when it failed to answer")
               .Register(r)),
        batches(prometheus::BuildGauge()
                    .Name("orthanc_router_batches")
                    .Help("Series and studies waiting for completion, on hold, or released and being sent, by "
                          "destination and state")
                    .Register(r)),
        batchesReleased(prometheus::BuildCounter()
                            .Name("orthanc_router_batches_released_total")
                            .Help("Series and studies released for delivery, by destination, level (series, study) "
                                  "and reason (quiet_time, expected_count, maximum_wait, operator)")
                            .Register(r)),
        deidentified(prometheus::BuildCounter()
                         .Name("orthanc_router_deidentified_total")
                         .Help("Instances de-identified for a route, by project")
                         .Register(r)),
        deidRefusals(prometheus::BuildCounter()
                         .Name("orthanc_router_deidentification_refusals_total")
                         .Help("Instances not sent because de-identification refused them, by project and reason "
                               "(burned_in, unknown_project, failed)")
                         .Register(r)),
        batchCompletion(prometheus::BuildHistogram()
                            .Name("orthanc_router_batch_completion_seconds")
                            .Help("From a series' or study's first instance to its release, by level")
                            .Register(r)),
        batchesDelivered(prometheus::BuildCounter()
                             .Name("orthanc_router_batches_delivered_total")
                             .Help("Series and studies whose every job was delivered, by destination and level")
                             .Register(r)),
        batchSending(prometheus::BuildHistogram()
                         .Name("orthanc_router_batch_sending_seconds")
                         .Help("From a series' or study's release to its last job delivered, by level")
                         .Register(r)),
        nodeInfo(prometheus::BuildGauge()
                     .Name("orthanc_router_node_info")
                     .Help("1, labelled with this appliance's NodeName and its queue database")
                     .Register(r)),
        nodeAlive(prometheus::BuildGauge()
                      .Name("orthanc_router_node_alive")
                      .Help("1 when the node's last heartbeat is within its lease, by node (every node of the queue)")
                      .Register(r)),
        nodeHeartbeatAge(prometheus::BuildGauge()
                             .Name("orthanc_router_node_heartbeat_age_seconds")
                             .Help("Seconds since the node's last heartbeat in the queue, by node")
                             .Register(r)),
        nodeHeld(prometheus::BuildGauge()
                     .Name("orthanc_router_node_held")
                     .Help("What the node holds under its lease, by node and stage (routing, sending)")
                     .Register(r)) {}

  prometheus::Counter& received;
  prometheus::Family<prometheus::Counter>& routes;
  prometheus::Histogram& ruleEvaluations;
  prometheus::Family<prometheus::Counter>& ruleErrors;
  prometheus::Family<prometheus::Counter>& jobs;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Family<prometheus::Counter>& deadLetters;
  prometheus::Family<prometheus::Counter>& bytes;
  prometheus::Family<prometheus::Histogram>& sendDuration;
  prometheus::Family<prometheus::Histogram>& transcodeDuration;
  prometheus::Family<prometheus::Counter>& transcodeFailures;
  prometheus::Family<prometheus::Counter>& transcoderCrashes;
  prometheus::Family<prometheus::Counter>& quarantined;
  prometheus::Family<prometheus::Counter>& associations;
  prometheus::Family<prometheus::Counter>& failovers;
  prometheus::Family<prometheus::Gauge>& queueJobs;
  prometheus::Family<prometheus::Gauge>& oldestJobAge;
  prometheus::Family<prometheus::Gauge>& intake;
  prometheus::Family<prometheus::Gauge>& up;
  prometheus::Family<prometheus::Gauge>& batches;
  prometheus::Family<prometheus::Counter>& batchesReleased;
  prometheus::Family<prometheus::Counter>& deidentified;
  prometheus::Family<prometheus::Counter>& deidRefusals;
  prometheus::Family<prometheus::Histogram>& batchCompletion;
  prometheus::Family<prometheus::Counter>& batchesDelivered;
  prometheus::Family<prometheus::Histogram>& batchSending;
  prometheus::Family<prometheus::Gauge>& nodeInfo;
  prometheus::Family<prometheus::Gauge>& nodeAlive;
  prometheus::Family<prometheus::Gauge>& nodeHeartbeatAge;
  prometheus::Family<prometheus::Gauge>& nodeHeld;
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()), families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::instancesReceived(int count) { families_->received.Increment(count); }

void Metrics::routeDecided(const std::string& destination) {
  families_->routes.Add({{"destination", destination}}).Increment();
}

void Metrics::ruleEvaluated(Duration duration) { families_->ruleEvaluations.Observe(seconds(duration)); }

void Metrics::ruleFailed(const std::string& ruleFile, const std::string& kind) {
  families_->ruleErrors.Add({{"rule_file", ruleFile.empty() ? "unknown" : ruleFile}, {"kind", kind}}).Increment();
}

void Metrics::delivered(const std::string& destination, const std::string& syntax, size_t bytes,
                        Duration duration, bool warning) {
  families_->jobs.Add({{"destination", destination}, {"outcome", warning ? "delivered_warning" : "delivered"}})
      .Increment();
  families_->bytes.Add({{"destination", destination}, {"transfer_syntax", syntax}})
      .Increment(static_cast<double>(bytes));
  families_->sendDuration.Add({{"destination", destination}}, kIoBuckets).Observe(seconds(duration));
}

void Metrics::retried(const std::string& destination, const std::string& reason) {
  families_->jobs.Add({{"destination", destination}, {"outcome", "retried"}}).Increment();
  families_->retries.Add({{"destination", destination}, {"reason", reason}}).Increment();
}

void Metrics::deadLettered(const std::string& destination, const std::string& reason) {
  families_->jobs.Add({{"destination", destination}, {"outcome", "dead"}}).Increment();
  families_->deadLetters.Add({{"destination", destination}, {"reason", reason}}).Increment();
}

void Metrics::transcoded(const std::string& syntax, Duration duration) {
  families_->transcodeDuration.Add({{"transfer_syntax", syntax}}, kIoBuckets).Observe(seconds(duration));
}

void Metrics::transcodeFailed(const std::string& syntax) {
  families_->transcodeFailures.Add({{"transfer_syntax", syntax}}).Increment();
}

void Metrics::transcoderCrashed(const std::string& syntax, const std::string& kind) {
  families_->transcoderCrashes.Add({{"transfer_syntax", syntax}, {"kind", kind}}).Increment();
}

void Metrics::quarantined(const std::string& stage, int count) {
  families_->quarantined.Add({{"stage", stage}}).Increment(count);
}

void Metrics::destinationUp(const std::string& destination, bool up) {
  families_->up.Add({{"destination", destination}}).Set(up ? 1 : 0);
}

void Metrics::associationOpened(const std::string& destination, bool ok) {
  families_->associations.Add({{"destination", destination}, {"outcome", ok ? "ok" : "failed"}}).Increment();
}

void Metrics::deidentified(const std::string& project) {
  families_->deidentified.Add({{"project", project}}).Increment();
}

void Metrics::deidentificationRefused(const std::string& project, const std::string& reason) {
  families_->deidRefusals.Add({{"project", project}, {"reason", reason}}).Increment();
}

void Metrics::failedOver(const std::string& destination, const std::string& failover, int jobs) {
  families_->failovers.Add({{"destination", destination}, {"failover", failover}}).Increment(jobs);
}

void Metrics::batchReleased(const std::string& destination, const std::string& level, const std::string& reason,
                            std::chrono::duration<double> sinceFirst) {
  std::string label = reason;
  std::replace(label.begin(), label.end(), ' ', '_');
  families_->batchesReleased.Add({{"destination", destination}, {"level", level}, {"reason", label}}).Increment();
  families_->batchCompletion.Add({{"level", level}}, kCompletionBuckets).Observe(sinceFirst.count());
}

void Metrics::batchDelivered(const std::string& destination, const std::string& level,
                             std::chrono::duration<double> sinceRelease) {
  families_->batchesDelivered.Add({{"destination", destination}, {"level", level}}).Increment();
  families_->batchSending.Add({{"level", level}}, kSendingBuckets).Observe(sinceRelease.count());
}

void Metrics::identify(const std::string& node, const std::string& queue) {
  node_ = node;
  queue_ = queue;
}

std::string Metrics::scrape(const QueueDepth& depth, const std::vector<std::string>& destinations,
                            const std::vector<NodeState>& nodes) {
  auto now = Clock::now();
  const std::string& q = queue_;
  for (const std::string& destination : destinations) {
    auto states = depth.jobs.find(destination);
    for (JobState s : kJobStates) {
      double n = 0;
      if (states != depth.jobs.end()) {
        auto it = states->second.find(s);
        if (it != states->second.end()) n = static_cast<double>(it->second);
      }
      families_->queueJobs.Add({{"destination", destination}, {"state", toString(s)}, {"queue", q}}).Set(n);
    }
    auto batches = depth.batches.find(destination);
    for (BatchState s : kOpenBatchStates) {
      double n = 0;
      if (batches != depth.batches.end() && batches->second.count(s)) n = static_cast<double>(batches->second.at(s));
      families_->batches.Add({{"destination", destination}, {"state", toString(s)}, {"queue", q}}).Set(n);
    }
    auto oldest = depth.oldestPending.find(destination);
    families_->oldestJobAge.Add({{"destination", destination}, {"queue", q}})
        .Set(oldest == depth.oldestPending.end() ? 0 : std::chrono::duration<double>(now - oldest->second).count());
  }
  // Studies waiting for route_study(), under its reserved name.
  auto decisions = depth.batches.find(kStudyDecision);
  for (BatchState s : kOpenBatchStates) {
    double n = 0;
    if (decisions != depth.batches.end() && decisions->second.count(s)) n = static_cast<double>(decisions->second.at(s));
    families_->batches.Add({{"destination", kStudyDecision}, {"state", toString(s)}, {"queue", q}}).Set(n);
  }
  for (IntakeState s : {IntakeState::New, IntakeState::Routing, IntakeState::RuleFailed}) {
    auto it = depth.intake.find(s);
    families_->intake.Add({{"state", toString(s)}, {"queue", q}})
        .Set(it == depth.intake.end() ? 0 : static_cast<double>(it->second));
  }
  families_->nodeInfo.Add({{"node", node_}, {"queue", q}}).Set(1);
  for (const NodeState& n : nodes) {
    families_->nodeAlive.Add({{"node", n.name}, {"queue", q}}).Set(n.alive ? 1 : 0);
    families_->nodeHeartbeatAge.Add({{"node", n.name}, {"queue", q}})
        .Set(std::max(0.0, std::chrono::duration<double>(now - n.lastHeartbeat).count()));
    families_->nodeHeld.Add({{"node", n.name}, {"stage", "routing"}, {"queue", q}}).Set(static_cast<double>(n.intakeHeld));
    families_->nodeHeld.Add({{"node", n.name}, {"stage", "sending"}, {"queue", q}}).Set(static_cast<double>(n.jobsHeld));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace router
