// The circuit breaker of one destination, and when it fails over. After
// CircuitBreaker.Failures sends in a row that got no answer, the destination
// is "down": its workers take no job (queued jobs keep their attempts) and
// one of them probes it every ProbeInterval until it answers; then it is up
// again. While it has been down for FailoverAfter (and names a Failover),
// every failed probe says its waiting jobs are to move there: those queued
// since the last move go too.
//
// Only the state machine lives here, on an injectable clock; the lane that
// owns it does the probing, the moving and the logging (Delivery.cpp).
//
// Thread safety: every method may be called from any thread (the workers of
// one destination share its breaker; status and other lanes ask down()).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>

#include "plugins/core/config/Config.h"
#include "plugins/core/delivery/SteadyNow.h"

namespace router {

class Breaker {
 public:
  using Duration = std::chrono::steady_clock::duration;

  // failoverAfter: nullopt when the destination has no failover.
  Breaker(const CircuitBreaker& policy, std::optional<Duration> failoverAfter, SteadyNow now = realSteadyNow());
  // The policy of a destination's configuration.
  explicit Breaker(const DestinationConfig& config, SteadyNow now = realSteadyNow());

  enum class Gate {
    Take,   // up: take jobs
    Probe,  // down and a probe is due: this caller probes, then calls probed()
    Wait,   // down: another worker probes, or the next probe is not due yet
  };
  Gate admit();

  enum class AfterProbe {
    Up,         // it answered: the circuit is closed, jobs flow again
    StillDown,  // no answer
    FailOver,   // no answer, and down for FailoverAfter: move its waiting jobs
  };
  // The answer of the probe that admit() asked for.
  AfterProbe probed(bool answered);

  // The result of a send: answered or not. Returns the number of sends in a
  // row without an answer when this one opened the circuit, else nullopt.
  std::optional<int> recordSend(bool answered);

  bool down() const;
  // How long it has been down (zero when up).
  Duration downFor() const;

 private:
  const int failuresToOpen_;
  const Duration probeInterval_;
  const std::optional<Duration> failoverAfter_;
  const SteadyNow now_;
  mutable std::mutex mutex_;
  int failures_ = 0;  // sends in a row without an answer
  bool down_ = false;
  std::chrono::steady_clock::time_point downSince_;
  std::chrono::steady_clock::time_point lastProbe_;
};

}  // namespace router
