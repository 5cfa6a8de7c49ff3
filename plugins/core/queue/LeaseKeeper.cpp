#include "plugins/core/queue/LeaseKeeper.h"

#include <algorithm>

#include "plugins/core/ThreadName.h"

namespace router {

LeaseKeeper::LeaseKeeper(AdminQueue& queue, std::chrono::seconds lease, Log& log, std::function<void()> onTakenOver)
    : queue_(queue),
      // Three beats a lease: one lost beat (a slow database) loses no claim.
      interval_(std::max<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(lease) / 3,
                                                    std::chrono::milliseconds(500))),
      log_(log),
      onTakenOver_(std::move(onTakenOver)),
      lifecycle_([this] {
        if (thread_.joinable()) thread_.join();
      }) {
  lifecycle_.interrupts(wakeup_);
}

LeaseKeeper::~LeaseKeeper() { stop(); }

void LeaseKeeper::start() {
  lifecycle_.start([this] {
    thread_ = std::thread([this] {
      nameThisThread("router-lease");
      while (!wakeup_.stopped()) {
        uint64_t seen = wakeup_.generation();
        try {
          beatOnce(Clock::now());
        } catch (const std::exception& e) {
          log_.warning(std::string("queue: cannot renew this node's leases, trying again: ") + e.what());
        }
        wakeup_.waitFor(seen, interval_);
      }
    });
  });
}

void LeaseKeeper::stop() { lifecycle_.stop(); }

Heartbeat LeaseKeeper::beatOnce(Clock::time_point now) {
  Heartbeat h = queue_.heartbeat(now);
  if (h.takenOver > 0) {
    log_.warning("queue: took over " + std::to_string(h.takenOver) +
                 " item(s) another node held past its lease (it stopped or lost the database)" +
                 (h.quarantined > 0 ? "; " + std::to_string(h.quarantined) +
                                          " of them quarantined: in flight when a node stopped twice in a row"
                                    : ""));
    if (onTakenOver_) onTakenOver_();
  }
  return h;
}

}  // namespace router
