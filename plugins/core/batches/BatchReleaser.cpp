#include "plugins/core/batches/BatchReleaser.h"

#include <algorithm>

#include "plugins/core/ThreadName.h"

namespace router {

BatchReleaser::BatchReleaser(BatchQueue& queue, Log& log, Metrics& metrics, OnReleased onReleased, Now now,
                             std::chrono::milliseconds poll)
    : queue_(queue),
      log_(log),
      metrics_(metrics),
      onReleased_(std::move(onReleased)),
      now_(std::move(now)),
      poll_(poll),
      lifecycle_([this] {
        if (thread_.joinable()) thread_.join();
      }) {
  lifecycle_.interrupts(wakeup_);
}

BatchReleaser::~BatchReleaser() { stop(); }

void BatchReleaser::start() {
  lifecycle_.start([this] {
    thread_ = std::thread([this] {
      nameThisThread("router-batches");
      while (!wakeup_.stopped()) {
        const uint64_t seen = wakeup_.generation();
        std::chrono::milliseconds wait = poll_;
        try {
          if (std::optional<Clock::time_point> next = releaseOnce()) {
            auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now_());
            wait = std::clamp(until, std::chrono::milliseconds(1), poll_);
          }
        } catch (const std::exception& e) {
          log_.warning(std::string("batches: cannot release complete series and studies, trying again: ") +
                       e.what());
        }
        wakeup_.waitFor(seen, wait);
      }
    });
  });
}

void BatchReleaser::stop() { lifecycle_.stop(); }

std::optional<Clock::time_point> BatchReleaser::releaseOnce() {
  std::optional<Clock::time_point> next;
  const Clock::time_point now = now_();
  for (const Batch& batch : queue_.releaseDue(now, next)) {
    const char* level = toString(batch.level);
    const auto waited = std::chrono::duration<double>(now - batch.firstAt);
    metrics_.batchReleased(batch.destination, level, batch.releasedBecause, waited);
    log_.info(std::string("batches: ") + level + " " + batch.uid + " for " + batch.destination + " released (" +
              batch.releasedBecause + ", " + std::to_string(batch.instances) + " instance(s) in " +
              std::to_string(static_cast<long long>(waited.count())) + " s)");
    onReleased_(batch);
  }
  return next;
}

}  // namespace router
