#include "plugins/core/Router.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/routing/StudySummaries.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

std::set<std::string> destinationNames(const Config& config) {
  std::set<std::string> names;
  for (const auto& [name, d] : config.destinations) names.insert(name);
  return names;
}

std::unique_ptr<Queue> openConfiguredQueue(const std::string& path, const QueueNode& node) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && path.find("://") == std::string::npos) std::filesystem::create_directories(parent, ec);
  try {
    return openQueue(path, node);
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
    std::set<std::string> projects;
    for (const auto& entry : config.deidentification.projects) projects.insert(entry.first);
    return RuleBook(config.rulesDir, destinationNames(config), RuleLimits{}, log, std::move(projects));
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
  o.nice = config.transcoding.nice;
  o.warn = [&log](const std::string& message) { log.warning(message); };
  return o;
}

}  // namespace

Router::Router(Config config, InstanceStore& store, Log& log, CommitmentReports* commitments)
    : config_(std::move(config)),
      store_(store),
      log_(log),
      commitments_(commitments),
      audit_(openAuditLog(config_.auditLog)),
      queue_(openConfiguredQueue(config_.queueDatabase, config_.node)),
      transcoder_(workerOptions(config_, log)),
      host_(transcoder_, config_.transcoding.quality, metrics_, log_),
      rules_(loadRules(config_, log)),
      intake_(store_, *queue_, log_, metrics_, routingWakeup_, config_.routeResentInstances),
      delivery_(config_, store_, *queue_, transcoder_, cache_, log_, metrics_, commitments_, audit_.get()),
      batches_(*queue_, log_, metrics_,
               [this](const Batch& batch) {
                 if (batch.destination == kStudyDecision) {
                   routing_.studyReleased();  // route_study() decides where it goes
                 } else {
                   delivery_.notify(batch.destination);
                 }
               }),
      routing_(store_, *queue_, rules_, cache_, log_, metrics_, routingWakeup_,
               [this](const std::string& instanceId, const std::string& storedSyntax, const Route& route) {
                 if (instanceId.empty()) {  // a study decided by route_study(): its jobs are due
                   delivery_.notify(route.destination);
                   return;
                 }
                 if (route.completion.level != RouteLevel::Instance) {
                   batches_.wake();  // held until its series or study is complete
                   return;
                 }
                 delivery_.prepareAhead(instanceId, storedSyntax, route);
                 delivery_.notify(route.destination);
               }),
      watcher_(config_.rulesDir, rules_, log_),
      history_(*queue_, config_.historyRetention, log_),
      leases_(*queue_, config_.node.lease, log_,
              [this] {
                routingWakeup_.notify();
                delivery_.notifyAll();
              }),
      lifecycle_([this] { halt(); }),
      operations_(config_, *queue_, *queue_, delivery_, routingWakeup_, rules_, log_, audit_.get(), queue_.get()) {
  metrics_.identify(config_.node.name, isPostgresUri(config_.queueDatabase)
                                           ? describeQueueDatabase(config_.queueDatabase)
                                           : "sqlite:" + config_.node.name);
}

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
  leases_.start();  // before any claim: they are renewed from the first
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
  batches_.start();
  routing_.start(config_.threads);
  intake_.start();
  watcher_.start();
  history_.start();
  log_.info("router started: " + std::to_string(config_.destinations.size()) + " destination(s), " +
            std::to_string(config_.threads) + " routing thread(s), queue " + describeQueueDatabase(config_.queueDatabase));
}

void Router::halt() {
  history_.stop();
  watcher_.stop();
  intake_.stop();
  routing_.stop();
  batches_.stop();
  delivery_.stop();
  transcoder_.stop();
  leases_.stop();  // last: claims in flight stay renewed until their workers stopped
}

RouterStatus Router::status() {
  RouterStatus out;
  auto source = rules_.current();
  out.rules.directory = config_.rulesDir;
  out.rules.version = source->version;
  out.rules.loadedAt = rules_.loadedAt();
  for (const auto& f : source->files) out.rules.files.push_back(f.name);
  if (std::optional<RuleBook::LoadError> refused = rules_.lastError()) {
    out.rules.lastError = refused->failure;
    out.rules.lastErrorAt = refused->at;
  }

  QueueDepth depth = queue_->depth();
  for (IntakeState s : {IntakeState::New, IntakeState::Routing, IntakeState::RuleFailed}) {
    out.intake[s] = depth.intake.count(s) ? depth.intake.at(s) : 0;
  }
  for (const auto& [name, d] : config_.destinations) {
    DestinationStatus entry;
    entry.name = name;
    entry.kind = d.kind();
    entry.up = !delivery_.isDown(name);
    entry.paused = delivery_.isPaused(name);
    if (d.settings) entry.settings = d.settings->status();
    entry.failover = d.failover;
    entry.failoverAfter = d.failoverAfter;
    auto counts = depth.jobs.find(name);
    for (JobState s : kJobStates) {
      entry.jobs[s] = counts != depth.jobs.end() && counts->second.count(s) ? counts->second.at(s) : 0;
    }
    auto batches = depth.batches.find(name);
    for (BatchState s : kOpenBatchStates) {
      entry.batches[s] = batches != depth.batches.end() && batches->second.count(s) ? batches->second.at(s) : 0;
    }
    if (!d.windows.empty()) {
      const Clock::time_point now = Clock::now();
      entry.window = describe(d.windows);
      entry.windowOpen = windowOpen(d.windows, now);
      entry.opensAt = nextOpening(d.windows, now);
    }
    auto oldest = depth.oldestPending.find(name);
    if (oldest != depth.oldestPending.end()) {
      entry.oldestJobAgeSeconds = std::chrono::duration<double>(Clock::now() - oldest->second).count();
    }
    out.destinations.push_back(std::move(entry));
  }
  auto decisions = depth.batches.find(kStudyDecision);
  for (BatchState s : kOpenBatchStates) {
    out.studyDecisions[s] =
        decisions != depth.batches.end() && decisions->second.count(s) ? decisions->second.at(s) : 0;
  }
  out.transcoding.workers = static_cast<int64_t>(transcoder_.pids().size());
  out.transcoding.workerExecutable = config_.transcoding.workerExecutable;
  out.transcoding.lockdown = transcoder_.lockdown();
  out.transcoding.replacements = transcoder_.replacements();
  out.queueDatabase = describeQueueDatabase(config_.queueDatabase);
  out.node = config_.node.name;
  out.nodes = queue_->nodes(Clock::now());
  out.state = lifecycle_.state();
  return out;
}

std::string Router::metricsText() {
  std::vector<std::string> names;
  for (const auto& [name, d] : config_.destinations) names.push_back(name);
  return metrics_.scrape(queue_->depth(), names, queue_->nodes(Clock::now()));
}

RouteDecision Router::testRoute(const std::string& part10, const Origin& origin) {
  InstanceView view = readInstanceView(part10);
  view.origin = origin;
  return rules_.makeEngine()->route(view);
}

StudyTest Router::testStudy(const std::vector<std::string>& files, const Origin& origin) {
  std::unique_ptr<RuleEngine> engine = rules_.makeEngine();
  StudyTest test;
  std::vector<InstanceView> views;
  for (const std::string& file : files) {
    InstanceView view = readInstanceView(file);
    view.origin = origin;
    test.instances.push_back({view.sopInstanceUid, engine->route(view)});
    views.push_back(std::move(view));
  }
  if (engine->studyCompletion()) {
    for (const StudySummary& study : summarizeStudies(views)) test.studies.push_back({study, engine->routeStudy(study)});
  }
  return test;
}

}  // namespace router
