#include "plugins/core/queue/HistoryPruner.h"

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr int kBatch = 2000;  // rows per transaction: the queue stays responsive
constexpr auto kInterval = std::chrono::minutes(1);
}  // namespace

HistoryPruner::HistoryPruner(AdminQueue& queue, std::chrono::seconds retention, Log& log)
    : queue_(queue), retention_(retention), log_(log) {}

HistoryPruner::~HistoryPruner() { stop(); }

void HistoryPruner::start() {
  if (thread_.joinable()) return;
  wakeup_.rearm();
  thread_ = std::thread([this] {
    nameThisThread("router-history");
    while (!wakeup_.stopped()) {
      uint64_t seen = wakeup_.generation();
      try {
        pruneOnce();
      } catch (const std::exception& e) {
        log_.warning(std::string("queue: cannot forget old history, trying again in a minute: ") + e.what());
      }
      wakeup_.waitFor(seen, kInterval);
    }
  });
}

void HistoryPruner::stop() {
  wakeup_.stop();
  if (thread_.joinable()) thread_.join();
}

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
