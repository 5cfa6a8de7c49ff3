#include "plugins/core/intake/Intake.h"

#include <chrono>
#include <utility>

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr int kBatch = 200;
}  // namespace

Intake::Intake(InstanceStore& store, IntakeQueue& queue, Log& log, Metrics& metrics, Wakeup& routingWakeup,
               bool routeResentInstances, std::chrono::milliseconds pollInterval,
               std::chrono::milliseconds gapGrace)
    : store_(store), queue_(queue), log_(log), metrics_(metrics), routingWakeup_(routingWakeup),
      routeResentInstances_(routeResentInstances), pollInterval_(pollInterval), cursor_(gapGrace),
      lifecycle_([this] {
        if (thread_.joinable()) thread_.join();
      }) {
  lifecycle_.interrupts(wakeup_);
}

Intake::~Intake() { stop(); }

void Intake::anchor() {
  if (!queue_.lastChangeSeq()) {
    // A new queue on an Orthanc that already holds instances: start from now,
    // instances stored before the router was installed are not routed.
    int64_t last = store_.lastChange();
    queue_.recordChanges({}, last, false);
    log_.info("new queue: taking in changes after Orthanc's change " + std::to_string(last));
  }
}

void Intake::start() {
  lifecycle_.start([this] {
    anchor();
    thread_ = std::thread([this] {
      nameThisThread("router-intake");
      run();
    });
  });
}

void Intake::stop() { lifecycle_.stop(); }

int Intake::pollOnce() {
  // The stored cursor: read from the queue after a quiet pass (another node
  // may have moved it), else the one this thread wrote last (a lower value
  // is safe: what it re-reads is not taken in twice). Reading goes on past
  // it when it waits at a gap.
  const std::optional<int64_t> known = std::exchange(written_, std::nullopt);
  int64_t cursor = known ? *known : queue_.lastChangeSeq().value_or(0);
  cursor_.committed(cursor, {}, ChangeCursor::SteadyClock::now());
  bool moved = false;
  int64_t readFrom = cursor;
  int taken = 0;
  for (;;) {
    ChangeBatch batch = store_.changesSince(readFrom, kBatch);
    const auto now = ChangeCursor::SteadyClock::now();
    std::vector<Change> fresh;
    for (const Change& change : batch.newInstances) {
      if (!cursor_.recorded(change.seq)) fresh.push_back(change);
    }
    const int64_t to = cursor_.advanceTo(cursor, batch.seqs, now);
    if (to > cursor || !fresh.empty()) {
      int added = queue_.recordChanges(fresh, to, !routeResentInstances_);
      if (added > 0) {
        metrics_.instancesReceived(added);
        routingWakeup_.notify();
      }
      taken += added;
      moved = moved || to > cursor;
      cursor = to;
    }
    cursor_.committed(cursor, batch.seqs, now);
    readFrom = std::max(readFrom, batch.last);
    if (batch.done || wakeup_.stopped()) {
      if (moved || taken > 0) written_ = cursor;
      return taken;
    }
  }
}

void Intake::run() {
  bool failing = false;
  while (!wakeup_.stopped()) {
    uint64_t seen = wakeup_.generation();
    try {
      pollOnce();
      if (failing) log_.info("intake: taking in Orthanc's changes works again");
      failing = false;
    } catch (const std::exception& e) {
      if (!failing) {
        // The failing side (Orthanc's log, or the queue recording it) names itself in e.what().
        log_.error("intake: cannot take in Orthanc's changes (reading its changes log or recording them in the "
                   "queue), retrying every " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(pollInterval_).count()) +
                   " s: " + e.what());
      }
      failing = true;
    }
    wakeup_.waitFor(seen, pollInterval_);
  }
}

}  // namespace router
