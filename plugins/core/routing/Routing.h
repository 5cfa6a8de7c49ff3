// Where an instance is decided: routing workers take instances from the
// intake queue, read them from Orthanc, run the rules and enqueue one job per
// route, all in one queue transaction. A rule failure leaves the instance
// "rule-failed" (re-routable once the rules are fixed); nothing is dropped.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (new workers,
// the shared Wakeup rearmed); stop interrupts their waits.
//
// Thread safety: one Routing object owns its worker threads; start(), stop()
// and state() from any thread. Each worker owns its Lua engine.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <functional>
#include <thread>
#include <vector>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/routing/RuleBook.h"

namespace router {

// Where an instance came from, as one string for the shared cache (key
// "origin:<instance id>"), offered with its file when Orthanc stores it.
std::string encodeOrigin(const Origin& origin);
Origin decodeOrigin(const std::string& text);

class Routing {
 public:
  // Called for each job enqueued: the instance, the syntax it is stored in,
  // and its route; for a route_study() decision once per route, with an
  // empty instance id (the study's jobs are due).
  using OnEnqueued = std::function<void(const std::string& instanceId, const std::string& storedSyntax,
                                        const Route& route)>;
  // Files read for routing are left in cache for the deliveries that follow.
  // wakeup: notified when there is something to route (intake, re-route);
  // this object's lifecycle stops and rearms it. idlePoll: how often an idle
  // worker looks at the queue without being notified.
  Routing(InstanceStore& store, RoutingQueue& queue, RuleBook& rules, PreparedCache& cache, Log& log, Metrics& metrics,
          Wakeup& wakeup, OnEnqueued onEnqueued, std::chrono::milliseconds idlePoll = std::chrono::seconds(2));
  ~Routing();
  Routing(const Routing&) = delete;
  Routing& operator=(const Routing&) = delete;
  void start(int threads);
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // A study's decision batch was released: a worker calls route_study().
  void studyReleased() {
    studiesDue_ = true;
    wakeup_.notify();
  }

 private:
  void run();
  void routeOne(RuleEngine& engine, const IntakeItem& item);
  // One worker at a time decides the released studies (route_study()).
  void decideStudies(RuleEngine& engine);
  void decideStudy(RuleEngine& engine, const Batch& batch);

  InstanceStore& store_;
  RoutingQueue& queue_;
  RuleBook& rules_;
  PreparedCache& cache_;
  Log& log_;
  Metrics& metrics_;
  Wakeup& wakeup_;
  OnEnqueued onEnqueued_;
  const std::chrono::milliseconds idlePoll_;
  std::vector<std::thread> threads_;
  std::mutex deciding_;
  std::atomic<bool> studiesDue_{true};  // at start: decisions a restart interrupted
  Lifecycle lifecycle_;
};

}  // namespace router
