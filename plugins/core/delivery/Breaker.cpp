#include "plugins/core/delivery/Breaker.h"

namespace router {

Breaker::Breaker(const CircuitBreaker& policy, std::optional<Duration> failoverAfter, SteadyNow now)
    : failuresToOpen_(policy.failures),
      probeInterval_(policy.probeInterval),
      failoverAfter_(failoverAfter),
      now_(std::move(now)) {}

Breaker::Breaker(const DestinationConfig& config, SteadyNow now)
    : Breaker(config.circuitBreaker,
              config.failover.empty() ? std::nullopt : std::optional<Duration>(config.failoverAfter),
              std::move(now)) {}

Breaker::Gate Breaker::admit() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!down_) return Gate::Take;
  auto now = now_();
  if (now - lastProbe_ < probeInterval_) return Gate::Wait;
  lastProbe_ = now;  // this worker probes; the others keep waiting
  return Gate::Probe;
}

Breaker::AfterProbe Breaker::probed(bool answered) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (answered) {
    down_ = false;
    failures_ = 0;
    return AfterProbe::Up;
  }
  if (failoverAfter_ && down_ && now_() - downSince_ >= *failoverAfter_) return AfterProbe::FailOver;
  return AfterProbe::StillDown;
}

std::optional<int> Breaker::recordSend(bool answered) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (answered) {
    failures_ = 0;
    return std::nullopt;
  }
  if (++failures_ < failuresToOpen_ || down_) return std::nullopt;
  down_ = true;
  downSince_ = lastProbe_ = now_();
  return failures_;
}

bool Breaker::down() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return down_;
}

Breaker::Duration Breaker::downFor() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return down_ ? now_() - downSince_ : Duration::zero();
}

}  // namespace router
