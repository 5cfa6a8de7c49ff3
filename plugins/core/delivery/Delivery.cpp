#include "plugins/core/delivery/Delivery.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <variant>

#include "plugins/core/ThreadName.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {
using SteadyClock = std::chrono::steady_clock;
// An association unused this long is released; the peer may limit them.
constexpr auto kIdleClose = std::chrono::seconds(30);
// How long an idle lane trusts what it last learnt of its destination's
// next retry. Jobs mostly come one at a time, each followed by an empty
// claim: asking the queue every time doubled those round trips (a shared
// PostgreSQL queue pays each one). A retry may then start up to this much
// later than its due time.
constexpr auto kRetryRecheck = std::chrono::seconds(1);
}  // namespace

Delivery::Delivery(const Config& config, InstanceStore& store, Queue& queue, const Transcoder& transcoder,
                   PreparedCache& cache, Log& log, Metrics& metrics, CommitmentReports* commitments,
                   AuditLog* audit, DestinationFactory makeDestination, SteadyNow now,
                   std::chrono::milliseconds idlePoll, WallNow wallNow)
    : config_(config),
      queue_(queue),
      log_(log),
      metrics_(metrics),
      makeDestination_(std::move(makeDestination)),
      idlePoll_(idlePoll),
      wallNow_(std::move(wallNow)),
      preparation_(store, transcoder, cache, metrics, log, now, config.transcoding.quality, &config.deidentification,
                   &queue),
      outcomes_(config, queue, store, cache, metrics, log, audit,
                [this](const std::string& destination) { return isDown(destination) || isPaused(destination); }),
      lifecycle_([this] { halt(); }) {
  if (!makeDestination_) {
    makeDestination_ = [context = DestinationContext{config_.localAet, commitments}](
                           const DestinationConfig& destination) { return router::makeDestination(destination, context); };
  }
  for (const auto& [name, destination] : config_.destinations) {
    auto lane = lanes_.emplace(name, std::make_unique<Lane>(destination, now)).first;
    lifecycle_.interrupts(lane->second->wakeup);
  }
}

Delivery::~Delivery() { stop(); }

void Delivery::start() {
  lifecycle_.start([this] {
    preparation_.start(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
    for (auto& [name, lane] : lanes_) {
      const int workers = lane->config->settings ? lane->config->settings->lanes() : 1;
      for (int i = 0; i < workers; ++i) {
        Lane* l = lane.get();
        l->threads.emplace_back([this, l] {
          nameThisThread("rt-" + l->config->name);
          run(*l);
        });
      }
    }
  });
}

void Delivery::stop() { lifecycle_.stop(); }

// The lanes' Wakeups are stopped already (Lifecycle): every lane ends what
// it is sending and leaves its loop.
void Delivery::halt() {
  preparation_.stop();
  for (auto& [name, lane] : lanes_) {
    for (auto& t : lane->threads) {
      if (t.joinable()) t.join();
    }
    lane->threads.clear();
  }
}

void Delivery::notify(const std::string& destination) {
  auto it = lanes_.find(destination);
  if (it != lanes_.end()) it->second->wakeup.notify();
}

void Delivery::notifyAll() {
  for (auto& [name, lane] : lanes_) lane->wakeup.notify();
}

void Delivery::run(Lane& lane) {
  const DestinationConfig& config = *lane.config;
  std::unique_ptr<Destination> destination;
  auto lastUse = SteadyClock::now();
  bool idleClosed = true;
  // Jobs this worker claimed whose outcome the queue could not record (e.g.
  // its disk is full): handed back as failed before any new claim, so that
  // none stays "sending" until the next restart. One already settled is left
  // as it is by releaseJob().
  std::map<int64_t, std::string> unsettled;
  std::vector<int64_t> claimed;
  std::optional<Clock::time_point> retryDue;  // the destination's next retry, as last asked
  std::optional<SteadyClock::time_point> retryAsked;
  while (!lane.wakeup.stopped()) {
    uint64_t seen = lane.wakeup.generation();
    claimed.clear();
    try {
      for (auto it = unsettled.begin(); it != unsettled.end(); it = unsettled.erase(it)) {
        queue_.releaseJob(it->first, "the queue could not record the delivery: " + it->second,
                          Clock::now() + config.retry.initialDelay);
      }
      if (!destination) destination = makeDestination_(config);
      if (!admit(lane, *destination)) {
        lane.wakeup.waitFor(seen, std::chrono::seconds(1));
        continue;
      }
      // Outside its delivery windows a destination takes urgent jobs only;
      // the others wait without using attempts.
      const bool closed = !windowOpen(config.windows, wallNow_());
      std::optional<Job> job = queue_.claimJob(config.name, closed);
      if (job) claimed.push_back(job->id);
      if (!job) {
        if (!idleClosed && SteadyClock::now() - lastUse > kIdleClose) {
          destination->close();
          idleClosed = true;
        }
        auto deadline = SteadyClock::now() + idlePoll_;
        if (!retryAsked || SteadyClock::now() - *retryAsked >= kRetryRecheck) {
          retryDue = queue_.nextRetry(config.name);
          retryAsked = SteadyClock::now();
        }
        if (retryDue) {
          // A retry already due was not claimable just now (a closed
          // window, another node took it, the clocks' rounding): look again
          // in a while rather than at once, which would spin.
          auto wait = std::max<SteadyClock::duration>(
              std::chrono::duration_cast<SteadyClock::duration>(*retryDue - Clock::now()),
              *retryDue > Clock::now() ? SteadyClock::duration::zero() : SteadyClock::duration(kRetryRecheck));
          if (SteadyClock::now() + wait < deadline) deadline = SteadyClock::now() + wait;
        }
        lane.wakeup.waitUntil(seen, deadline);
        continue;
      }
      if (destination->maxBatch() > 1) {
        // Batching destinations (STOW-RS): take what else is due, up to the batch size.
        std::vector<Job> jobs{*job};
        while (static_cast<int>(jobs.size()) < destination->maxBatch()) {
          std::optional<Job> more = queue_.claimJob(config.name, closed);
          if (!more) break;
          claimed.push_back(more->id);
          jobs.push_back(std::move(*more));
        }
        recordAnswer(lane, deliverBatch(*destination, config, jobs));
      } else {
        recordAnswer(lane, deliver(*destination, config, *job));
      }
      lastUse = SteadyClock::now();
      idleClosed = false;
    } catch (const std::exception& e) {
      for (int64_t id : claimed) unsettled.emplace(id, e.what());
      log_.error("delivery to " + config.name + ": " + e.what() +
                 (claimed.empty() ? "" : "; its job(s) will be tried again once the queue works"));
      lane.wakeup.waitFor(seen, std::chrono::seconds(1));
    }
  }
  if (destination) destination->close();
}

bool Delivery::isDown(const std::string& destination) {
  auto it = lanes_.find(destination);
  return it != lanes_.end() && it->second->breaker.down();
}

bool Delivery::pause(const std::string& destination, bool paused) {
  auto it = lanes_.find(destination);
  if (it == lanes_.end()) return false;
  if (it->second->paused.exchange(paused) != paused) {
    log_.warning("destination " + destination + (paused ? " paused: its jobs wait until it is resumed"
                                                         : " resumed: its queue drains now"));
  }
  it->second->wakeup.notify();
  return true;
}

bool Delivery::isPaused(const std::string& destination) {
  auto it = lanes_.find(destination);
  return it != lanes_.end() && it->second->paused;
}

bool Delivery::admit(Lane& lane, Destination& destination) {
  const DestinationConfig& config = *lane.config;
  if (lane.paused) return false;
  switch (lane.breaker.admit()) {
    case Breaker::Gate::Take:
      return true;
    case Breaker::Gate::Wait:
      return false;
    case Breaker::Gate::Probe:
      break;
  }
  bool up = false;
  try {
    up = destination.probe();
  } catch (const std::exception& e) {
    log_.warning("probe of " + config.name + " failed: " + e.what());
  }
  switch (lane.breaker.probed(up)) {
    case Breaker::AfterProbe::FailOver:
      failOver(lane);
      return false;
    case Breaker::AfterProbe::StillDown:
      return false;
    case Breaker::AfterProbe::Up:
      break;
  }
  metrics_.destinationUp(config.name, true);
  log_.warning("destination " + config.name + " answers again; its queue drains now");
  lane.wakeup.notify();
  return true;
}

void Delivery::recordAnswer(Lane& lane, bool answered) {
  const DestinationConfig& config = *lane.config;
  std::optional<int> opened = lane.breaker.recordSend(answered);
  if (!opened) return;
  metrics_.destinationUp(config.name, false);
  log_.error("destination " + config.name + " marked down after " + std::to_string(*opened) +
             " sends without an answer; its jobs wait, probing every " +
             std::to_string(config.circuitBreaker.probeInterval.count()) + " s");
}

void Delivery::failOver(Lane& lane) {
  const DestinationConfig& config = *lane.config;
  const auto downFor = lane.breaker.downFor();
  int moved = queue_.moveWaitingJobs(config.name, config.failover, "failed over from " + config.name);
  if (moved == 0) return;
  outcomes_.failedOver(config, moved, downFor);
  notify(config.failover);
}

std::optional<Prepared> Delivery::prepare(const DestinationConfig& config, const Job& job) {
  std::variant<Prepared, PrepareFailure> made = preparation_.prepare(config, job);
  if (auto* prepared = std::get_if<Prepared>(&made)) return std::move(*prepared);
  const PrepareFailure& failure = std::get<PrepareFailure>(made);
  OutcomeEvent event = forJob(config.name, job);
  event.outcome = failure.permanent ? SendOutcome::Permanent : SendOutcome::Retry;
  event.reason = failure.reason;
  event.detail = failure.detail;
  outcomes_.record(event);
  return std::nullopt;
}

bool Delivery::deliver(Destination& destination, const DestinationConfig& config, const Job& job) {
  std::optional<Prepared> p = prepare(config, job);
  if (!p) return true;
  const int opened = destination.associationsOpened();
  SendResult result = destination.send(p->outgoing());
  countAssociations(config, destination, opened, result);
  fallBack(destination, config, *p, result);
  return settle(config, *p, result);
}

bool Delivery::deliverBatch(Destination& destination, const DestinationConfig& config, const std::vector<Job>& jobs) {
  std::vector<Prepared> prepared;
  for (const Job& job : jobs) {
    if (auto p = prepare(config, job)) prepared.push_back(std::move(*p));
  }
  if (prepared.empty()) return true;
  std::vector<Outgoing> outgoing;
  for (const Prepared& p : prepared) outgoing.push_back(p.outgoing());
  const int opened = destination.associationsOpened();
  std::vector<SendResult> results = destination.sendBatch(outgoing);
  bool answered = false;
  for (size_t i = 0; i < prepared.size(); ++i) {
    SendResult result = i < results.size() ? results[i]
                                            : SendResult{SendOutcome::Retry, "no result for this instance", 0, false};
    if (i == 0) countAssociations(config, destination, opened, result);
    fallBack(destination, config, prepared[i], result);
    answered = settle(config, prepared[i], result) || answered;
  }
  return answered;
}

void Delivery::fallBack(Destination& destination, const DestinationConfig& config, Prepared& p, SendResult& result) {
  if (result.outcome != SendOutcome::Permanent) return;
  // Negotiation fallback: the peer refused this syntax for this SOP class
  // but accepted others; send it in the best of those instead of failing.
  std::vector<std::string> accepted = destination.acceptedTransferSyntaxes(p.identity.sopClassUid);
  if (accepted.empty() || std::find(accepted.begin(), accepted.end(), p.identity.transferSyntax) != accepted.end()) {
    return;
  }
  const std::string refused = p.identity.transferSyntax;
  std::string fallback = fallbackSyntax(config, accepted, refused);
  if (fallback.empty()) return;
  try {
    preparation_.reencode(p, fallback);
    // The detail says why (a refusal by the peer, or a syntax DCMTK cannot
    // carry) and what the peer accepts.
    log_.warning("delivery to " + config.name + ": " + result.detail + "; sending as " +
                 transferSyntaxName(fallback) + " instead of " + transferSyntaxName(refused));
    const int reopened = destination.associationsOpened();
    result = destination.send(p.outgoing());
    countAssociations(config, destination, reopened, result);
  } catch (const std::exception& e) {
    result.detail += "; fallback to " + transferSyntaxName(fallback) + " failed: " + e.what();
  }
}

void Delivery::countAssociations(const DestinationConfig& config, const Destination& destination, int before,
                                 const SendResult& result) {
  if (!config.settings || !config.settings->opensAssociations()) return;
  for (int i = before; i < destination.associationsOpened(); ++i) metrics_.associationOpened(config.name, true);
  // A retry without any DIMSE status: the association could not be opened or broke.
  if (result.outcome == SendOutcome::Retry && result.dimseStatus == 0 && !result.answered) {
    metrics_.associationOpened(config.name, false);
  }
}

bool Delivery::settle(const DestinationConfig& config, const Prepared& p, const SendResult& result) {
  char statusWord[16] = "connection";
  if (result.answered) std::snprintf(statusWord, sizeof statusWord, "no_commitment");
  if (result.dimseStatus != 0) std::snprintf(statusWord, sizeof statusWord, "status_%02xxx", result.dimseStatus >> 8);
  // Not answered (no DIMSE status, no report): the destination did not answer at all.
  const bool answered = result.dimseStatus != 0 || result.answered;
  OutcomeEvent event = forJob(config.name, p.job);
  event.outcome = result.outcome;
  event.detail = result.detail;
  switch (result.outcome) {
    case SendOutcome::Delivered:
      event.answered = true;
      event.sopInstanceUid = p.identity.sopInstanceUid;
      event.transferSyntax = p.identity.transferSyntax;
      event.bytes = p.ready->size();
      event.duration = SteadyClock::now() - p.started;
      event.warning = result.warning;
      break;
    case SendOutcome::Retry:
      event.answered = answered;
      event.reason = statusWord;
      break;
    case SendOutcome::Permanent:
      event.answered = true;
      event.reason = result.dimseStatus != 0 ? statusWord : "refused";
      break;
  }
  outcomes_.record(event);
  return result.outcome == SendOutcome::Retry ? answered : true;
}

}  // namespace router
