// The appliance's Prometheus metrics (prometheus-cpp), all named
// orthanc_router_*. Families are built once at start and their references
// kept; labels carry destination names, transfer-syntax keywords, rule file
// names and fixed outcome/reason words only — never patient data or UIDs.
// Queue gauges are refreshed from the queue at scrape time. Those are the
// queue's, not the node's: with several appliances on one shared queue each
// node exports the same values, so they carry a `queue` label (the database
// without its password; "sqlite:NODE" for the embedded queue) by which
// dashboards count each queue once (max by queue, then sum).
//
// Thread safety: every method may be called from any thread (prometheus-cpp
// counters are atomic; families and histograms lock internally).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "plugins/core/queue/Queue.h"

namespace prometheus {
class Registry;
}

namespace router {

class Metrics {
 public:
  using Duration = std::chrono::steady_clock::duration;

  Metrics();
  ~Metrics();

  void instancesReceived(int count);
  void routeDecided(const std::string& destination);
  void ruleEvaluated(Duration duration);
  void ruleFailed(const std::string& ruleFile, const std::string& kind);  // kind: error, budget, result
  void delivered(const std::string& destination, const std::string& syntax, size_t bytes, Duration duration,
                 bool warning);
  void retried(const std::string& destination, const std::string& reason);
  void deadLettered(const std::string& destination, const std::string& reason);
  void transcoded(const std::string& syntax, Duration duration);
  void transcodeFailed(const std::string& syntax);
  // kind: crash, timeout, memory (TranscoderCrash::Kind).
  void transcoderCrashed(const std::string& syntax, const std::string& kind);
  // stage: routing, delivery.
  void quarantined(const std::string& stage, int count);
  void destinationUp(const std::string& destination, bool up);
  void associationOpened(const std::string& destination, bool ok);
  void failedOver(const std::string& destination, const std::string& failover, int jobs);
  // A series or study released for delivery (reason: Batch::releasedBecause).
  void batchReleased(const std::string& destination, const std::string& level, const std::string& reason,
                     std::chrono::duration<double> sinceFirst);
  // Every job of a released series or study delivered (sinceRelease: how
  // long the sending took).
  void batchDelivered(const std::string& destination, const std::string& level,
                      std::chrono::duration<double> sinceRelease);

  // An instance de-identified for a project (once per instance and set of
  // options, whatever the number of destinations), or refused (reason:
  // burned_in, unknown_project, failed).
  void deidentified(const std::string& project);
  void deidentificationRefused(const std::string& project, const std::string& reason);

  // Which node this is and which queue it uses (the labels of
  // orthanc_router_node_info and of the queue gauges). Call before scraping.
  void identify(const std::string& node, const std::string& queue);

  // The text exposition format, with the queue gauges of every configured
  // destination taken from depth (0 where it has no job), and every node of
  // the queue.
  std::string scrape(const QueueDepth& depth, const std::vector<std::string>& destinations,
                     const std::vector<NodeState>& nodes = {});

 private:
  struct Families;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> families_;
  std::string node_ = "local", queue_ = "sqlite:local";  // set by identify(), before the threads start
};

}  // namespace router
