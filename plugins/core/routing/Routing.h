// Where an instance is decided: routing workers take instances from the
// intake queue, read them from Orthanc, run the rules and enqueue one job per
// route, all in one queue transaction. A rule failure leaves the instance
// "rule-failed" (re-routable once the rules are fixed); nothing is dropped.
//
// Thread safety: one Routing object owns its worker threads; start/stop from
// one thread. Each worker owns its Lua engine.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/routing/RuleBook.h"

namespace router {

class Routing {
 public:
  // Files read for routing are left in cache for the deliveries that follow.
  Routing(InstanceStore& store, Queue& queue, RuleBook& rules, PreparedCache& cache, Log& log, Metrics& metrics,
          Wakeup& wakeup,
          std::function<void(const std::string& destination)> onEnqueued);
  ~Routing();
  void start(int threads);
  void stop();

 private:
  void run();
  void routeOne(RuleEngine& engine, const IntakeItem& item);

  InstanceStore& store_;
  Queue& queue_;
  RuleBook& rules_;
  PreparedCache& cache_;
  Log& log_;
  Metrics& metrics_;
  Wakeup& wakeup_;
  std::function<void(const std::string&)> onEnqueued_;
  std::vector<std::thread> threads_;
};

}  // namespace router
