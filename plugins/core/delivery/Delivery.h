// Where an instance leaves: for each destination, "Associations" worker
// threads (one for other types) take its due jobs in priority then arrival
// order (several at once for destinations that send in batches), have them
// prepared (Preparation: tag edits, transcoding) and send them through their
// own Destination object. The outcome is classified once by the destination
// (SendOutcome); a refused syntax is sent again in one the peer accepted
// (the negotiation fallback), and Outcomes records what became of the job.
// Destinations never share threads, so a slow or dead one does not slow the
// others; each has its circuit breaker (Breaker) and may be paused.
//
// Lifecycle (plugins/core/Lifecycle.h): start after stop works (the lanes'
// Wakeups rearmed, new workers and Destination objects, the prepare-ahead
// pool started again; circuit breakers and pauses are kept). Stop interrupts
// every lane's wait (idle, backoff until the next retry, breaker hold) and
// stops the prepare-ahead pool; a send or conversion in progress ends first.
//
// Thread safety: notify(), notifyAll(), prepareAhead(), isDown(), pause(),
// isPaused() and state() from any thread; start() and stop() too (one at a
// time, Lifecycle).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugins/core/Lifecycle.h"
#include "plugins/core/Log.h"
#include "plugins/core/Wakeup.h"
#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/AuditLog.h"
#include "plugins/core/delivery/Breaker.h"
#include "plugins/core/delivery/Outcomes.h"
#include "plugins/core/delivery/PreparedCache.h"
#include "plugins/core/delivery/Preparation.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/registry/Kinds.h"
#include "plugins/core/intake/InstanceStore.h"
#include "plugins/core/metrics/Metrics.h"
#include "plugins/core/queue/Queue.h"
#include "transcoders/Transcoder.h"

namespace router {

// Makes the Destination object of one worker (called on that worker's thread).
using DestinationFactory = std::function<std::unique_ptr<Destination>(const DestinationConfig& config)>;

class Delivery {
 public:
  // makeDestination: empty for the real destinations (makeDestination() with
  // commitments); tests give fakes. now: the clock of the circuit breakers
  // and of the crash memo. idlePoll: how often an idle lane looks at the
  // queue without being notified (it wakes earlier for a retry that is due).
  // wallNow: the wall clock the destinations' delivery windows are read on.
  using WallNow = std::function<Clock::time_point()>;
  Delivery(const Config& config, InstanceStore& store, Queue& queue, const Transcoder& transcoder,
           PreparedCache& cache, Log& log, Metrics& metrics, CommitmentReports* commitments = nullptr,
           AuditLog* audit = nullptr, DestinationFactory makeDestination = {}, SteadyNow now = realSteadyNow(),
           std::chrono::milliseconds idlePoll = std::chrono::seconds(2), WallNow wallNow = Clock::now);
  ~Delivery();
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  void start();
  void stop();
  RunState state() const { return lifecycle_.state(); }
  // The prepare-ahead pool's (it starts and stops with delivery).
  RunState preparationState() const { return preparation_.state(); }
  // New jobs for destination (from routing or the REST API).
  void notify(const std::string& destination);
  void notifyAll();
  // A job was just enqueued: start its transcode ahead on the prepare
  // threads (Preparation::ahead()).
  void prepareAhead(const std::string& instanceId, const std::string& storedSyntax, const Route& route) {
    preparation_.ahead(instanceId, storedSyntax, route);
  }
  // Destinations the circuit breaker holds as down.
  bool isDown(const std::string& destination);
  // An operator's hold (maintenance of the peer): a paused destination takes
  // no job, and its queue waits without using attempts; not kept across a
  // restart. False when there is no such destination.
  bool pause(const std::string& destination, bool paused);
  bool isPaused(const std::string& destination);

 private:
  struct Lane {
    Lane(const DestinationConfig& destination, SteadyNow now) : config(&destination), breaker(destination, now) {}
    const DestinationConfig* config;
    Wakeup wakeup;
    Breaker breaker;
    std::atomic<bool> paused{false};
    std::vector<std::thread> threads;
  };
  void run(Lane& lane);
  void halt();  // the end of a stop (Lifecycle)
  // True when the lane may take jobs; when it is down, probes it if due.
  bool admit(Lane& lane, Destination& destination);
  void recordAnswer(Lane& lane, bool answered);
  // The lane has been down for its FailoverAfter: moves its waiting jobs to
  // its Failover destination.
  void failOver(Lane& lane);
  // These return whether the destination answered (for the circuit breaker).
  bool deliver(Destination& destination, const DestinationConfig& config, const Job& job);
  bool deliverBatch(Destination& destination, const DestinationConfig& config, const std::vector<Job>& jobs);
  bool settle(const DestinationConfig& config, const Prepared& prepared, const SendResult& result);
  // nullopt when the job could not be prepared (its failure is recorded).
  std::optional<Prepared> prepare(const DestinationConfig& config, const Job& job);
  // A syntax the peer refused (Permanent): sends again in the best one it
  // accepted, replacing result; does nothing for other outcomes.
  void fallBack(Destination& destination, const DestinationConfig& config, Prepared& prepared, SendResult& result);
  void countAssociations(const DestinationConfig& config, const Destination& destination, int before,
                         const SendResult& result);

  const Config& config_;
  DeliveryQueue& queue_;
  Log& log_;
  Metrics& metrics_;
  DestinationFactory makeDestination_;
  const std::chrono::milliseconds idlePoll_;
  const WallNow wallNow_;
  Preparation preparation_;
  Outcomes outcomes_;
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  Lifecycle lifecycle_;
};

}  // namespace router
