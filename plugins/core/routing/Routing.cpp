#include "plugins/core/routing/Routing.h"

#include <chrono>
#include <map>

#include "plugins/core/ThreadName.h"
#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/dicom/Uid.h"

namespace router {
namespace {
constexpr auto kPostponeDelay = std::chrono::seconds(1);
// The value of a top-level element by keyword, without padding; empty when absent.
std::string textOf(const InstanceView& view, const char* keyword) {
  for (const TagValue& tag : view.tags) {
    if (tag.keyword == keyword) return trimUid(tag.value);
  }
  return {};
}

// A number element as an int (0 when absent or not a number: such an
// instance sorts first in its series).
int numberOf(const InstanceView& view, const char* keyword) {
  try {
    return std::stoi(textOf(view, keyword));
  } catch (const std::exception&) {
    return 0;
  }
}

RoutedInstance routedInstance(const InstanceView& view) {
  RoutedInstance instance(view.sopInstanceUid);
  instance.studyInstanceUid = textOf(view, "StudyInstanceUID");
  instance.seriesInstanceUid = textOf(view, "SeriesInstanceUID");
  instance.seriesNumber = numberOf(view, "SeriesNumber");
  instance.instanceNumber = numberOf(view, "InstanceNumber");
  instance.sender = !view.origin.callingAet.empty() ? view.origin.callingAet : view.origin.protocol;
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
      std::optional<IntakeItem> item = queue_.claimIntake();
      if (!item) {
        wakeup_.waitFor(seen, idlePoll_);
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
  queue_.finishRouting(item.id, routedInstance(view), decision.routes);
  for (const Route& route : decision.routes) {
    metrics_.routeDecided(route.destination);
    onEnqueued_(item.instanceId, view.transferSyntax, route);
  }
}

}  // namespace router
