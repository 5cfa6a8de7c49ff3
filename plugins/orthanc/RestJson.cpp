#include "plugins/orthanc/RestJson.h"

#include <algorithm>
#include <ctime>
#include <variant>

#include "lua/RouteJson.h"
#include "transcoders/TransferSyntax.h"

namespace router::orthanc {
namespace {

std::string isoTime(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  char text[32];
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

Json::Value destinationToJson(const DestinationStatus& d) {
  Json::Value entry(Json::objectValue);
  entry["Type"] = d.kind;
  entry["Up"] = d.up;
  entry["Paused"] = d.paused;
  for (const StatusField& field : d.settings) {
    std::visit([&](const auto& value) { entry[field.name] = value; }, field.value);
  }
  if (!d.failover.empty()) {
    entry["Failover"] = d.failover;
    entry["FailoverAfter"] = static_cast<Json::Int64>(d.failoverAfter.count());
  }
  Json::Value jobs(Json::objectValue);
  for (const auto& [state, n] : d.jobs) jobs[toString(state)] = static_cast<Json::Int64>(n);
  entry["Queue"] = jobs;
  Json::Value batches(Json::objectValue);
  for (const auto& [state, n] : d.batches) batches[toString(state)] = static_cast<Json::Int64>(n);
  entry["Batches"] = batches;
  entry["OldestJobAgeSeconds"] = d.oldestJobAgeSeconds;
  if (!d.window.empty()) {
    Json::Value window(Json::objectValue);
    window["Hours"] = d.window;
    window["Open"] = d.windowOpen;
    if (d.opensAt) window["OpensAt"] = isoTime(*d.opensAt);
    entry["Window"] = window;
  }
  return entry;
}

}  // namespace

Json::Value rulesToJson(const RulesStatus& rules) {
  Json::Value out(Json::objectValue);
  out["Directory"] = rules.directory;
  out["Version"] = rules.version;
  out["LoadedAt"] = isoTime(rules.loadedAt);
  if (rules.lastError) {
    Json::Value error(Json::objectValue);
    error["Message"] = rules.lastError->describe();
    error["File"] = rules.lastError->file;
    error["Line"] = rules.lastError->line;
    error["At"] = isoTime(rules.lastErrorAt);
    out["LastError"] = error;  // the rules in force are still the ones loaded at LoadedAt
  }
  Json::Value files(Json::arrayValue);
  for (const std::string& f : rules.files) files.append(f);
  out["Files"] = files;
  return out;
}

Json::Value statusToJson(const RouterStatus& status) {
  Json::Value out(Json::objectValue);
  out["Rules"] = rulesToJson(status.rules);
  Json::Value intake(Json::objectValue);
  for (const auto& [state, n] : status.intake) intake[toString(state)] = static_cast<Json::Int64>(n);
  out["Intake"] = intake;
  Json::Value destinations(Json::objectValue);
  for (const DestinationStatus& d : status.destinations) destinations[d.name] = destinationToJson(d);
  out["Destinations"] = destinations;
  Json::Value transcoding(Json::objectValue);
  transcoding["Workers"] = static_cast<Json::Int64>(status.transcoding.workers);
  transcoding["WorkerExecutable"] = status.transcoding.workerExecutable;
  transcoding["Lockdown"] = status.transcoding.lockdown;
  transcoding["Replacements"] = static_cast<Json::UInt64>(status.transcoding.replacements);
  out["Transcoding"] = transcoding;
  out["QueueDatabase"] = status.queueDatabase;
  out["Node"] = status.node;
  Json::Value nodes(Json::arrayValue);
  const auto now = std::chrono::system_clock::now();
  for (const NodeState& n : status.nodes) {
    Json::Value node(Json::objectValue);
    node["Name"] = n.name;
    node["This"] = n.name == status.node;
    node["Alive"] = n.alive;
    node["StartedAt"] = isoTime(n.startedAt);
    node["LastHeartbeat"] = isoTime(n.lastHeartbeat);
    node["HeartbeatAgeSeconds"] = std::chrono::duration<double>(now - n.lastHeartbeat).count();
    node["LeaseSeconds"] = static_cast<Json::Int64>(n.lease.count());
    node["Routing"] = static_cast<Json::Int64>(n.intakeHeld);
    node["Sending"] = static_cast<Json::Int64>(n.jobsHeld);
    nodes.append(node);
  }
  out["Nodes"] = nodes;
  Json::Value decisions(Json::objectValue);
  for (const auto& [state, n] : status.studyDecisions) decisions[toString(state)] = static_cast<Json::Int64>(n);
  out["StudyDecisions"] = decisions;
  out["Running"] = status.state == RunState::Running;
  out["State"] = toString(status.state);
  return out;
}

Json::Value jobToJson(const Job& job) {
  Json::Value out(Json::objectValue);
  out["Id"] = static_cast<Json::Int64>(job.id);
  out["Instance"] = job.instanceId;
  out["SOPInstanceUID"] = job.sopInstanceUid;
  out["Destination"] = job.route.destination;
  out["TransferSyntax"] = job.route.transferSyntax.empty() ? "as received" : transferSyntaxName(job.route.transferSyntax);
  out["Priority"] = job.route.priority;
  out["State"] = toString(job.state);
  out["Attempts"] = job.attempts;
  out["LastError"] = job.lastError;
  auto ms = [](Clock::time_point t) {
    return static_cast<Json::Int64>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  };
  out["CreatedAtMs"] = ms(job.createdAt);
  out["NextAttemptAtMs"] = ms(job.nextAttemptAt);
  Json::Value modify(Json::objectValue);
  for (const auto& [key, value] : job.route.modify) modify[key] = value ? Json::Value(*value) : Json::Value(false);
  out["Modify"] = modify;
  if (job.route.deidentify.active()) {
    Json::Value deid(Json::objectValue);
    deid["Project"] = job.route.deidentify.project;
    deid["Profile"] = job.route.deidentify.profile;
    deid["Options"] = Json::Value(Json::arrayValue);
    for (const std::string& option : job.route.deidentify.options) deid["Options"].append(option);
    out["Deidentify"] = deid;
  }
  return out;
}

Json::Value intakeToJson(const IntakeItem& item) {
  Json::Value out(Json::objectValue);
  out["Instance"] = item.instanceId;
  out["State"] = toString(item.state);
  out["Error"] = item.error;
  return out;
}

Json::Value batchToJson(const Batch& batch) {
  Json::Value out(Json::objectValue);
  const auto now = Clock::now();
  auto age = [&](Clock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  out["Id"] = static_cast<Json::Int64>(batch.id);
  out["Level"] = toString(batch.level);
  out[batch.level == RouteLevel::Study ? "StudyInstanceUID" : "SeriesInstanceUID"] = batch.uid;
  if (batch.level == RouteLevel::Series) out["StudyInstanceUID"] = batch.studyInstanceUid;
  out["Destination"] = batch.destination;
  out["State"] = toString(batch.state);
  out["Instances"] = batch.instances;
  if (batch.expected > 0) out["Expected"] = batch.expected;
  out["JobsLeft"] = batch.jobsLeft;
  Json::Value senders(Json::arrayValue);
  for (const std::string& s : batch.senders) senders.append(s);
  out["Senders"] = senders;
  out["FirstArrival"] = isoTime(batch.firstAt);
  out["LastArrival"] = isoTime(batch.lastAt);
  out["SecondsSinceLast"] = age(batch.lastAt);
  out["QuietSeconds"] = static_cast<Json::Int64>(batch.quiet.count());
  out["MaxWaitSeconds"] = static_cast<Json::Int64>(batch.maxWait.count());
  if (!batch.requiredPresent.empty() || !batch.requiredMissing.empty()) {
    Json::Value present(Json::arrayValue), missing(Json::arrayValue);
    for (const std::string& s : batch.requiredPresent) present.append(s);
    for (const std::string& s : batch.requiredMissing) missing.append(s);
    out["RequiredPresent"] = present;
    out["RequiredMissing"] = missing;
  }
  if (batch.state == BatchState::Waiting) {
    // Missing required series: only the maximum wait completes it.
    const Clock::time_point forced = batch.firstAt + batch.maxWait;
    const Clock::time_point due =
        batch.requiredMissing.empty() ? std::min(batch.lastAt + batch.quiet, forced) : forced;
    out["CompleteInSeconds"] = std::max(0.0, -age(due));
  }
  if (batch.releasedAt) {
    out["Released"] = isoTime(*batch.releasedAt);
    out["ReleasedBecause"] = batch.releasedBecause;
    out["SecondsToComplete"] = std::chrono::duration<double>(*batch.releasedAt - batch.firstAt).count();
  }
  if (batch.deliveredAt) out["Delivered"] = isoTime(*batch.deliveredAt);
  out["Late"] = batch.late;
  return out;
}

Json::Value decisionToJson(const RouteDecision& decision) {
  Json::Value out(Json::objectValue);
  if (decision.failure) {
    out["error"] = decision.failure->describe();
    out["rule_file"] = decision.failure->file;
    out["rule_line"] = decision.failure->line;
    return out;
  }
  Json::Value routes(Json::arrayValue);
  for (const Route& route : decision.routes) routes.append(lua::routeToJson(route));
  out["routes"] = routes;
  return out;
}

Json::Value studyTestToJson(const StudyTest& test) {
  Json::Value out(Json::objectValue);
  Json::Value instances(Json::arrayValue);
  for (const StudyTest::Instance& instance : test.instances) {
    Json::Value entry = decisionToJson(instance.decision);
    entry["sop_instance_uid"] = instance.sopInstanceUid;
    instances.append(entry);
  }
  out["instances"] = instances;
  if (test.studies.empty()) return out;  // the rules define no route_study()
  Json::Value studies(Json::arrayValue);
  for (const StudyTest::Study& study : test.studies) {
    Json::Value entry = decisionToJson(study.decision);
    entry["study_instance_uid"] = study.summary.uid;
    entry["instances"] = study.summary.instances;
    Json::Value series(Json::arrayValue);
    for (const SeriesSummary& s : study.summary.series) {
      Json::Value one(Json::objectValue);
      one["uid"] = s.uid;
      one["instances"] = s.instances;
      series.append(one);
    }
    entry["series"] = series;
    studies.append(entry);
  }
  out["studies"] = studies;
  return out;
}

Json::Value pseudonymToJson(const PseudonymEntry& entry) {
  Json::Value out(Json::objectValue);
  out["Project"] = entry.project;
  out["Pseudonym"] = entry.pseudonym;
  out["PatientID"] = entry.patientId;
  out["PatientName"] = entry.patientName;
  out["FirstSeen"] = isoTime(entry.firstSeen);
  out["LastSeen"] = isoTime(entry.lastSeen);
  return out;
}

}  // namespace router::orthanc
