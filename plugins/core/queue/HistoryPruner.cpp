#include "plugins/core/queue/HistoryPruner.h"

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr int kBatch = 2000;  // rows per transaction: the queue stays responsive
}  // namespace

HistoryPruner::HistoryPruner(AdminQueue& queue, std::chrono::seconds retention, Log& log,
                             std::chrono::milliseconds interval)
    : queue_(queue), retention_(retention), log_(log), interval_(interval), lifecycle_([this] {
        if (thread_.joinable()) thread_.join();
      }) {
  lifecycle_.interrupts(wakeup_);
}

HistoryPruner::~HistoryPruner() { stop(); }

void HistoryPruner::start() {
  lifecycle_.start([this] {
    thread_ = std::thread([this] {
      nameThisThread("router-history");
      while (!wakeup_.stopped()) {
        uint64_t seen = wakeup_.generation();
        try {
          pruneOnce();
        } catch (const std::exception& e) {
          log_.warning(std::string("queue: cannot forget old history, trying again in a minute: ") + e.what());
        }
        wakeup_.waitFor(seen, interval_);
      }
    });
  });
}

void HistoryPruner::stop() { lifecycle_.stop(); }

int HistoryPruner::pruneOnce() {
  const Clock::time_point before = Clock::now() - retention_;
  int total = 0;
  for (;;) {
    int n = queue_.pruneHistory(before, kBatch);
    total += n;
    if (n < kBatch || wakeup_.stopped()) return total;
  }
}

}  // namespace router
