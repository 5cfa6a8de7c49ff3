// Wakes sleeping workers when work arrives or shutdown begins. A worker reads
// generation() BEFORE looking for work, and waits with that value: a notify
// that came in between is never lost. Every wait of the router's threads is a
// wait on a Wakeup; their component's Lifecycle stops it (each wait returns)
// and rearms it at the next start.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace router {

class Wakeup {
 public:
  uint64_t generation() {
    std::lock_guard<std::mutex> lock(mutex_);
    return generation_;
  }

  void notify() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++generation_;
    }
    cv_.notify_all();
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
      ++generation_;
    }
    cv_.notify_all();
  }

  // Makes a stopped Wakeup usable again (a component started after a stop).
  void rearm() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = false;
  }

  bool stopped() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopped_;
  }

  // Returns when notified since `seen`, stopped, or at the deadline.
  void waitUntil(uint64_t seen, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return stopped_ || generation_ != seen; });
  }

  void waitFor(uint64_t seen, std::chrono::steady_clock::duration timeout) {
    waitUntil(seen, std::chrono::steady_clock::now() + timeout);
  }

  // Returns when notified since `seen`, or stopped.
  void wait(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return stopped_ || generation_ != seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  bool stopped_ = false;
};

}  // namespace router
