#include "plugins/core/intake/Intake.h"

#include <chrono>

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr int kBatch = 200;
}  // namespace

Intake::Intake(InstanceStore& store, IntakeQueue& queue, Log& log, Metrics& metrics, Wakeup& routingWakeup,
               bool routeResentInstances, std::chrono::milliseconds pollInterval)
    : store_(store), queue_(queue), log_(log), metrics_(metrics), routingWakeup_(routingWakeup),
      routeResentInstances_(routeResentInstances), pollInterval_(pollInterval), lifecycle_([this] {
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
  int64_t since = queue_.lastChangeSeq().value_or(0);
  int taken = 0;
  for (;;) {
    ChangeBatch batch = store_.changesSince(since, kBatch);
    if (batch.last > since || !batch.newInstances.empty()) {
      int added = queue_.recordChanges(batch.newInstances, std::max(batch.last, since), !routeResentInstances_);
      if (added > 0) {
        metrics_.instancesReceived(added);
        routingWakeup_.notify();
      }
      taken += added;
      since = std::max(batch.last, since);
    }
    if (batch.done || wakeup_.stopped()) return taken;
  }
}

void Intake::run() {
  bool failing = false;
  while (!wakeup_.stopped()) {
    uint64_t seen = wakeup_.generation();
    try {
      pollOnce();
      if (failing) log_.info("intake: reading Orthanc's changes log works again");
      failing = false;
    } catch (const std::exception& e) {
      if (!failing) {
        log_.error("intake: cannot read Orthanc's changes log, retrying every " +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(pollInterval_).count()) +
                   " s: " + e.what());
      }
      failing = true;
    }
    wakeup_.waitFor(seen, pollInterval_);
  }
}

}  // namespace router
