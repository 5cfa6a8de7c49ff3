#include "plugins/core/Lifecycle.h"

namespace router {

const char* toString(RunState state) {
  switch (state) {
    case RunState::Created: return "created";
    case RunState::Running: return "running";
    case RunState::Stopping: return "stopping";
    case RunState::Stopped: return "stopped";
  }
  return "unknown";
}

bool Lifecycle::start(const std::function<void()>& begin) {
  std::lock_guard<std::mutex> lock(transition_);
  if (state_ == RunState::Running) return false;
  for (Wakeup* wakeup : wakeups_) wakeup->rearm();
  try {
    begin();
  } catch (...) {
    end();
    throw;
  }
  state_ = RunState::Running;
  return true;
}

bool Lifecycle::stop() {
  std::lock_guard<std::mutex> lock(transition_);
  if (state_ != RunState::Running) {
    state_ = RunState::Stopped;
    return false;
  }
  end();
  return true;
}

void Lifecycle::end() {
  state_ = RunState::Stopping;
  for (Wakeup* wakeup : wakeups_) wakeup->stop();
  halt_();
  state_ = RunState::Stopped;
}

}  // namespace router
