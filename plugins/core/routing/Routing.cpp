#include "plugins/core/routing/Routing.h"

#include <chrono>
#include <map>
#include <mutex>

#include "plugins/core/ThreadName.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/queue/SearchKeys.h"
#include "plugins/core/routing/StudySummaries.h"

namespace router {
namespace {
constexpr auto kPostponeDelay = std::chrono::seconds(1);

RoutedInstance routedInstance(const InstanceView& view) {
  RoutedInstance instance(view.sopInstanceUid);
  instance.studyInstanceUid = textOf(view, "StudyInstanceUID");
  instance.seriesInstanceUid = textOf(view, "SeriesInstanceUID");
  instance.seriesNumber = numberOf(view, "SeriesNumber");
  instance.instanceNumber = numberOf(view, "InstanceNumber");
  instance.sender = !view.origin.callingAet.empty() ? view.origin.callingAet : view.origin.protocol;
  instance.searchKeys = searchKeysOf(view);
  return instance;
}

}  // namespace

std::string encodeOrigin(const Origin& origin) {
  // AE titles, addresses and Orthanc's origin words never hold a newline.
  return origin.callingAet + "\n" + origin.calledAet + "\n" + origin.remoteIp + "\n" + origin.protocol;
}

Origin decodeOrigin(const std::string& text) {
  Origin origin;
  std::string* fields[] = {&origin.callingAet, &origin.calledAet, &origin.remoteIp, &origin.protocol};
  size_t start = 0;
  for (std::string* field : fields) {
    size_t end = text.find('\n', start);
    *field = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return origin;
}

Routing::Routing(InstanceStore& store, RoutingQueue& queue, RuleBook& rules, PreparedCache& cache, Log& log,
                 Metrics& metrics, Wakeup& wakeup, OnEnqueued onEnqueued, std::chrono::milliseconds idlePoll)
    : store_(store), queue_(queue), rules_(rules), cache_(cache), log_(log), metrics_(metrics), wakeup_(wakeup),
      onEnqueued_(std::move(onEnqueued)), idlePoll_(idlePoll), lifecycle_([this] {
        for (auto& t : threads_) {
          if (t.joinable()) t.join();
        }
        threads_.clear();
      }) {
  lifecycle_.interrupts(wakeup_);
}

Routing::~Routing() { stop(); }

void Routing::start(int threads) {
  lifecycle_.start([this, threads] {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] {
      nameThisThread("router-route");
      run();
    });
  });
}

void Routing::stop() { lifecycle_.stop(); }

void Routing::run() {
  std::unique_ptr<RuleEngine> engine;
  uint64_t engineGeneration = 0;
  // Items this worker claimed but could not record an outcome for (the queue
  // failed, e.g. its disk is full): handed back before any new claim, so that
  // none stays "routing" until the next restart.
  std::map<int64_t, std::string> unsettled;
  auto lookedForDecisions = std::chrono::steady_clock::now();
  while (!wakeup_.stopped()) {
    uint64_t seen = wakeup_.generation();
    std::optional<int64_t> claimed;
    try {
      for (auto it = unsettled.begin(); it != unsettled.end(); it = unsettled.erase(it)) {
        queue_.postponeRouting(it->first, "the queue could not record the routing: " + it->second);
      }
      if (!engine || engineGeneration != rules_.generation()) {
        engineGeneration = rules_.generation();
        engine = rules_.makeEngine();
      }
      decideStudies(*engine);
      std::optional<IntakeItem> item = queue_.claimIntake();
      if (!item) {
        wakeup_.waitFor(seen, idlePoll_);
        // Once a poll interval, busy or not, look for decisions released
        // elsewhere (an operator's release, another node); not at every
        // wake-up, which would double the queue's round trips.
        if (std::chrono::steady_clock::now() - lookedForDecisions >= idlePoll_) {
          lookedForDecisions = std::chrono::steady_clock::now();
          studiesDue_ = true;
        }
        continue;
      }
      claimed = item->id;
      routeOne(*engine, *item);
    } catch (const std::exception& e) {
      // Queue or engine trouble: log, hand the item back, go on.
      if (claimed) unsettled.emplace(*claimed, e.what());
      log_.error(std::string("routing worker: ") + e.what() +
                 (unsettled.empty() ? "" : "; the instance is routed again once the queue works"));
      wakeup_.waitFor(seen, kPostponeDelay);
    }
  }
}

void Routing::routeOne(RuleEngine& engine, const IntakeItem& item) {
  const std::string fileKey = cachekey::file(item.instanceId);
  const std::string originKey = cachekey::origin(item.instanceId);
  PreparedCache::Value bytes;
  InstanceView view;
  try {
    // Usually offered to the cache when Orthanc stored it (no copy to make);
    // else read from Orthanc, and kept for the deliveries.
    bytes = cache_.get(fileKey, [&] { return store_.readFile(item.instanceId); });
    view = readInstanceView(*bytes);
    view.id = item.instanceId;
    view.origin = decodeOrigin(*cache_.get(
        originKey, [&] { return encodeOrigin(store_.readOrigin(item.instanceId)); }));
  } catch (const InstanceGoneError& e) {
    log_.warning("routing: instance " + item.instanceId + " was deleted from Orthanc before it was routed");
    cache_.erase(fileKey);
    queue_.finishRouting(item.id, "", {});
    return;
  } catch (const std::exception& e) {
    if (wakeup_.stopped()) {
      queue_.postponeRouting(item.id, e.what());
      return;
    }
    if (item.attempts >= 5) {
      log_.error("routing: instance " + item.instanceId + " cannot be read, left rule-failed: " + e.what());
      queue_.failRouting(item.id, std::string("cannot read the instance: ") + e.what());
    } else {
      queue_.postponeRouting(item.id, e.what());
    }
    return;
  }

  cache_.erase(originKey);  // needed once
  auto started = std::chrono::steady_clock::now();
  RouteDecision decision = engine.route(view);
  metrics_.ruleEvaluated(std::chrono::steady_clock::now() - started);
  if (decision.failure) {
    metrics_.ruleFailed(decision.failure->file, "error");
    std::string reason = decision.failure->describe();
    log_.error("rules: instance " + item.instanceId + " (SOP " + view.sopInstanceUid +
               ") left rule-failed: " + reason +
               "; fix the rules, reload them, then: " + log_.howTo(OperatorAction::RerouteFailed));
    cache_.erase(fileKey);
    queue_.failRouting(item.id, reason);
    return;
  }
  if (decision.routes.empty()) cache_.erase(fileKey);
  // With route_study(), every instance also joins its study's decision.
  if (engine.studyCompletion()) decision.routes.push_back(engine.studyDecisionRoute(view));
  queue_.finishRouting(item.id, routedInstance(view), decision.routes);
  for (const Route& route : decision.routes) {
    if (route.destination != kStudyDecision) metrics_.routeDecided(route.destination);
    onEnqueued_(item.instanceId, view.transferSyntax, route);
  }
}

void Routing::decideStudies(RuleEngine& engine) {
  std::unique_lock<std::mutex> one(deciding_, std::try_to_lock);
  if (!one.owns_lock() || !studiesDue_.exchange(false)) return;
  try {
    for (const Batch& batch : queue_.studiesToDecide(100)) decideStudy(engine, batch);
  } catch (...) {
    studiesDue_ = true;  // tried again on the next turn
    throw;
  }
}

void Routing::decideStudy(RuleEngine& engine, const Batch& batch) {
  if (!engine.studyCompletion()) {  // released under rules that had route_study(), these have not
    const std::string reason = "the rules in force define no route_study(study) to decide this study; reload "
                               "rules that do, then release the batch again (or cancel it)";
    log_.error("rules: study " + batch.uid + " (batch " + std::to_string(batch.id) + ") left on hold: " + reason);
    queue_.holdStudyDecision(batch.id, reason);
    return;
  }
  StudySummary study;
  study.uid = batch.uid;
  study.instances = batch.instances;
  study.senders = batch.senders;
  study.late = batch.late;
  for (const BatchSeries& series : queue_.batchSeries(batch.id)) {
    SeriesSummary summary{series.uid, series.instances, {}};
    try {
      // Through the cache: the study's jobs are about to read the same file.
      const std::string& id = series.firstInstanceId;
      summary.first = readInstanceView(*cache_.get(cachekey::file(id), [&] { return store_.readFile(id); }));
      summary.first.id = series.firstInstanceId;
    } catch (const InstanceGoneError&) {
      // Deleted from Orthanc meanwhile: the series is still counted; its
      // jobs fail as gone, like any other job of a deleted instance.
      log_.warning("route_study: the first instance of series " + series.uid + " of study " + batch.uid +
                   " is no longer in Orthanc; its tags are not in the summary");
    }
    study.series.push_back(std::move(summary));
  }
  if (!study.series.empty()) study.first = study.series.front().first;

  auto started = std::chrono::steady_clock::now();
  RouteDecision decision = engine.routeStudy(study);
  metrics_.ruleEvaluated(std::chrono::steady_clock::now() - started);
  if (decision.failure) {
    metrics_.ruleFailed(decision.failure->file, "error");
    const std::string reason = "route_study failed: " + decision.failure->describe() +
                               "; fix the rules, reload them, then release the batch again";
    log_.error("rules: study " + batch.uid + " (batch " + std::to_string(batch.id) + ") left on hold: " + reason);
    queue_.holdStudyDecision(batch.id, reason);
    return;
  }
  if (!queue_.decideStudy(batch.id, decision.routes, Clock::now())) return;  // decided meanwhile
  std::string where;
  for (const Route& route : decision.routes) {
    where += (where.empty() ? "" : ", ") + route.destination +
             (route.series.empty() ? "" : " (" + std::to_string(route.series.size()) + " series)");
    metrics_.routeDecided(route.destination);
    onEnqueued_("", "", route);
  }
  log_.info("route_study: study " + batch.uid + " (" + std::to_string(batch.instances) + " instance(s), " +
            std::to_string(study.series.size()) + " series) goes to " + (where.empty() ? "no destination" : where));
}

}  // namespace router
