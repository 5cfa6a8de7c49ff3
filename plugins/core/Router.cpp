#include "plugins/core/Router.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "plugins/core/dicom/TagReader.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

std::set<std::string> destinationNames(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, d] : config.destinations) names.insert(name);
  return names;
}

std::unique_ptr<Queue> openConfiguredQueue(const std::string& path) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && path.find("://") == std::string::npos) std::filesystem::create_directories(parent, ec);
  try {
    return openQueue(path);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("configuration error: Router.QueueDatabase: ") + e.what());
  }
}

std::unique_ptr<AuditLog> openAuditLog(const std::string& path) {
  if (path.empty()) return nullptr;
  try {
    return std::make_unique<AuditLog>(path);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("configuration error: Router.AuditLog: ") + e.what() +
                      " (the folder must exist and be writable by Orthanc)");
  }
}

RuleBook loadRules(const Config& config, Log& log) {
  try {
    return RuleBook(config.rulesDir, destinationNames(config), RuleLimits{}, log);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("configuration error: Router.Rules: ") + e.what());
  }
}

WorkerPoolOptions workerOptions(const Config& config, Log& log) {
  WorkerPoolOptions o;
  o.executable = config.transcoding.workerExecutable.empty() ? "/usr/lib/orthanc-router/orthanc-router-transcoder"
                                                            : config.transcoding.workerExecutable;
  o.workers = config.transcoding.workers > 0 ? config.transcoding.workers
                                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  o.timeLimit = config.transcoding.timeLimit;
  o.memoryLimitMb = static_cast<size_t>(config.transcoding.memoryLimitMb);
  o.warn = [&log](const std::string& message) { log.warning(message); };
  return o;
}

std::string isoTime(std::chrono::system_clock::time_point t) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  char text[32];
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

Router::Router(Config config, InstanceStore& store, Log& log, CommitmentReports* commitments)
    : config_(std::move(config)),
      store_(store),
      log_(log),
      commitments_(commitments),
      audit_(openAuditLog(config_.auditLog)),
      queue_(openConfiguredQueue(config_.queueDatabase)),
      transcoder_(workerOptions(config_, log)),
      rules_(loadRules(config_, log)),
      intake_(store_, *queue_, log_, metrics_, routingWakeup_, config_.routeResentInstances),
      delivery_(config_, store_, *queue_, transcoder_, cache_, log_, metrics_, commitments_, audit_.get()),
      routing_(store_, *queue_, rules_, cache_, log_, metrics_, routingWakeup_,
               [this](const std::string& instanceId, const std::string& storedSyntax, const Route& route) {
                 delivery_.prepareAhead(instanceId, storedSyntax, route);
                 delivery_.notify(route.destination);
               }),
      watcher_(config_.rulesDir, rules_, log_),
      history_(*queue_, config_.historyRetention, log_),
      lifecycle_([this] { halt(); }) {}

Router::~Router() { stop(); }

void Router::start() { lifecycle_.start([this] { begin(); }); }

void Router::stop() { lifecycle_.stop(); }

void Router::begin() {
  Recovery recovered = queue_->recover();
  if (recovered.requeued > 0) {
    log_.warning("queue: " + std::to_string(recovered.requeued) +
                 " item(s) were in flight when the router stopped; they are queued again");
  }
  if (recovered.quarantinedIntake + recovered.quarantinedJobs > 0) {
    log_.error("queue: quarantined " + std::to_string(recovered.quarantinedIntake) + " instance(s) (rule-failed) and " +
               std::to_string(recovered.quarantinedJobs) +
               " job(s) (dead letters) that were in flight when the appliance stopped twice in a row; they are "
               "not tried again by themselves: find the cause in this log, then re-route or retry them");
    metrics_.quarantined("routing", recovered.quarantinedIntake);
    metrics_.quarantined("delivery", recovered.quarantinedJobs);
  }
  intake_.anchor();
  try {
    transcoder_.start();
  } catch (const std::exception& e) {
    // Routing and delivery go on: every transcode then fails with this
    // reason (OnTranscodeFailure) until a worker can start.
    log_.error(std::string("transcoding: ") + e.what());
  }
  log_.warning("transcoding: " + std::to_string(transcoder_.pids().size()) + " worker process(es), " +
               transcoder_.lockdown());
  delivery_.start();
  routing_.start(config_.threads);
  intake_.start();
  watcher_.start();
  history_.start();
  log_.info("router started: " + std::to_string(config_.destinations.size()) + " destination(s), " +
            std::to_string(config_.threads) + " routing thread(s), queue " + config_.queueDatabase);
}

void Router::halt() {
  history_.stop();
  watcher_.stop();
  intake_.stop();
  routing_.stop();
  delivery_.stop();
  transcoder_.stop();
}

Json::Value Router::status() {
  Json::Value out(Json::objectValue);
  auto source = rules_.current();
  Json::Value rules(Json::objectValue);
  rules["Directory"] = config_.rulesDir;
  rules["Version"] = source->version;
  rules["LoadedAt"] = isoTime(rules_.loadedAt());
  Json::Value files(Json::arrayValue);
  for (const auto& f : source->files) files.append(f.name);
  rules["Files"] = files;
  out["Rules"] = rules;

  QueueDepth depth = queue_->depth();
  Json::Value intake(Json::objectValue);
  for (IntakeState s : {IntakeState::New, IntakeState::Routing, IntakeState::RuleFailed}) {
    intake[toString(s)] = static_cast<Json::Int64>(depth.intake.count(s) ? depth.intake.at(s) : 0);
  }
  out["Intake"] = intake;

  Json::Value destinations(Json::objectValue);
  for (const auto& [name, d] : config_.destinations) {
    Json::Value entry(Json::objectValue);
    entry["Type"] = toString(d.type);
    entry["Up"] = !delivery_.isDown(name);
    entry["Paused"] = delivery_.isPaused(name);
    if (d.type == DestinationType::Dicom) {
      entry["AET"] = d.aet;
      entry["Host"] = d.host;
      entry["Port"] = d.port;
      entry["Associations"] = d.associations;
      entry["StorageCommitment"] = d.storageCommitment;
    } else if (d.type == DestinationType::Folder) {
      entry["Path"] = d.path;
    } else {
      entry["Url"] = d.url;
    }
    if (!d.failover.empty()) {
      entry["Failover"] = d.failover;
      entry["FailoverAfter"] = static_cast<Json::Int64>(d.failoverAfter.count());
    }
    Json::Value jobs(Json::objectValue);
    for (JobState s : {JobState::Pending, JobState::Sending, JobState::Failed, JobState::Dead}) {
      int64_t n = 0;
      auto it = depth.jobs.find(name);
      if (it != depth.jobs.end() && it->second.count(s)) n = it->second.at(s);
      jobs[toString(s)] = static_cast<Json::Int64>(n);
    }
    entry["Queue"] = jobs;
    auto oldest = depth.oldestPending.find(name);
    entry["OldestJobAgeSeconds"] =
        oldest == depth.oldestPending.end()
            ? 0.0
            : std::chrono::duration<double>(Clock::now() - oldest->second).count();
    destinations[name] = entry;
  }
  out["Destinations"] = destinations;
  Json::Value transcoding(Json::objectValue);
  transcoding["Workers"] = static_cast<Json::Int64>(transcoder_.pids().size());
  transcoding["WorkerExecutable"] = config_.transcoding.workerExecutable;
  transcoding["Lockdown"] = transcoder_.lockdown();
  transcoding["Replacements"] = static_cast<Json::UInt64>(transcoder_.replacements());
  out["Transcoding"] = transcoding;
  out["QueueDatabase"] = config_.queueDatabase;
  const RunState state = lifecycle_.state();
  out["Running"] = state == RunState::Running;
  out["State"] = toString(state);
  return out;
}

std::string Router::metricsText() {
  std::vector<std::string> names;
  for (const auto& [name, d] : config_.destinations) names.push_back(name);
  return metrics_.scrape(queue_->depth(), names);
}

std::string Router::reloadRules() { return rules_.reload(); }

int Router::rerouteFailed() {
  int n = queue_->rerouteFailed();
  if (n > 0) routingWakeup_.notify();
  return n;
}

void Router::jobsChanged(const std::string& destination) {
  if (destination.empty()) {
    delivery_.notifyAll();
  } else {
    delivery_.notify(destination);
  }
}

RouteDecision Router::testRoute(const std::string& part10, const Origin& origin) {
  InstanceView view = readInstanceView(part10);
  view.origin = origin;
  return rules_.makeEngine()->route(view);
}

}  // namespace router
