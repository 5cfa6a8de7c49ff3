#include "plugins/orthanc/RestJson.h"

#include <ctime>
#include <variant>

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
  entry["OldestJobAgeSeconds"] = d.oldestJobAgeSeconds;
  return entry;
}

}  // namespace

Json::Value rulesToJson(const RulesStatus& rules) {
  Json::Value out(Json::objectValue);
  out["Directory"] = rules.directory;
  out["Version"] = rules.version;
  out["LoadedAt"] = isoTime(rules.loadedAt);
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
  return out;
}

Json::Value intakeToJson(const IntakeItem& item) {
  Json::Value out(Json::objectValue);
  out["Instance"] = item.instanceId;
  out["State"] = toString(item.state);
  out["Error"] = item.error;
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
  for (const Route& route : decision.routes) {
    Json::Value r(Json::objectValue);
    r["destination"] = route.destination;
    r["transfer_syntax"] = route.transferSyntax.empty() ? Json::Value() : Json::Value(route.transferSyntax);
    r["transfer_syntax_keyword"] =
        route.transferSyntax.empty() ? Json::Value() : Json::Value(transferSyntaxName(route.transferSyntax));
    r["priority"] = route.priority;
    Json::Value modify(Json::objectValue);
    for (const auto& [key, value] : route.modify) modify[key] = value ? Json::Value(*value) : Json::Value();
    r["modify"] = modify;
    routes.append(r);
  }
  out["routes"] = routes;
  return out;
}

}  // namespace router::orthanc
