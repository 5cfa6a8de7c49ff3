#include "plugins/core/delivery/Delivery.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

#include "plugins/core/ThreadName.h"
#include "plugins/core/delivery/Backoff.h"
#include "plugins/core/dicom/TagEditor.h"
#include "plugins/core/dicom/TagReader.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {
using SteadyClock = std::chrono::steady_clock;
constexpr auto kIdlePoll = std::chrono::seconds(2);
// An association unused this long is released; the peer may limit them.
constexpr auto kIdleClose = std::chrono::seconds(30);

std::string editsKey(const TagEdits& edits) {
  std::string key;
  for (const auto& [name, value] : edits) key += name + (value ? "=" + *value : "~") + "\x1f";
  return key;
}
}  // namespace

Delivery::Delivery(const Config& config, InstanceStore& store, Queue& queue, const Transcoder& transcoder,
                   PreparedCache& cache, Log& log, Metrics& metrics, CommitmentReports* commitments,
                   AuditLog* audit)
    : config_(config), store_(store), queue_(queue), transcoder_(transcoder), cache_(cache), log_(log),
      metrics_(metrics), commitments_(commitments), audit_(audit) {
  for (const auto& [name, destination] : config_.destinations) {
    auto lane = std::make_unique<Lane>();
    lane->config = &destination;
    lanes_.emplace(name, std::move(lane));
  }
}

Delivery::~Delivery() { stop(); }

void Delivery::start() {
  {
    std::lock_guard<std::mutex> lock(aheadMutex_);
    aheadStopped_ = false;
  }
  unsigned cores = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  for (unsigned i = 0; i < cores; ++i) {
    aheadThreads_.emplace_back([this] {
      nameThisThread("router-prepare");
      runAhead();
    });
  }
  for (auto& [name, lane] : lanes_) {
    int workers = lane->config->type == DestinationType::Dicom ? lane->config->associations : 1;
    for (int i = 0; i < workers; ++i) {
      Lane* l = lane.get();
      l->threads.emplace_back([this, l] {
        nameThisThread("rt-" + l->config->name);
        run(*l);
      });
    }
  }
}

void Delivery::stop() {
  {
    std::lock_guard<std::mutex> lock(aheadMutex_);
    aheadStopped_ = true;
    ahead_.clear();
  }
  aheadReady_.notify_all();
  for (auto& t : aheadThreads_) {
    if (t.joinable()) t.join();
  }
  aheadThreads_.clear();
  for (auto& [name, lane] : lanes_) lane->wakeup.stop();
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

void Delivery::prepareAhead(const std::string& instanceId, const std::string& storedSyntax, const Route& route) {
  if (route.transferSyntax.empty() || route.transferSyntax == storedSyntax) return;
  {
    std::lock_guard<std::mutex> lock(aheadMutex_);
    // Far enough ahead: more would only hold memory the cache may need.
    if (aheadStopped_ || aheadThreads_.empty() || ahead_.size() >= 2 * aheadThreads_.size()) return;
    ahead_.push_back(Ahead{instanceId, storedSyntax, route});
  }
  aheadReady_.notify_one();
}

void Delivery::runAhead() {
  for (;;) {
    Ahead next;
    {
      std::unique_lock<std::mutex> lock(aheadMutex_);
      aheadReady_.wait(lock, [&] { return aheadStopped_ || !ahead_.empty(); });
      if (aheadStopped_) return;
      next = std::move(ahead_.front());
      ahead_.pop_front();
    }
    try {
      Job job;
      job.instanceId = next.instanceId;
      job.route = next.route;
      prepare(job, job.route.transferSyntax, edit(job, readOriginal(job.instanceId)), next.storedSyntax);
    } catch (const std::exception&) {
      // Not cached: the delivery meets the same error itself and acts on it.
    }
  }
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
  while (!lane.wakeup.stopped()) {
    uint64_t seen = lane.wakeup.generation();
    claimed.clear();
    try {
      for (auto it = unsettled.begin(); it != unsettled.end(); it = unsettled.erase(it)) {
        queue_.releaseJob(it->first, "the queue could not record the delivery: " + it->second,
                          Clock::now() + config.retry.initialDelay);
      }
      if (!destination) destination = makeDestination(config, config_.localAet, commitments_);
      if (!admit(lane, *destination)) {
        lane.wakeup.waitFor(seen, std::chrono::seconds(1));
        continue;
      }
      std::optional<Job> job = queue_.claimJob(config.name);
      if (job) claimed.push_back(job->id);
      if (!job) {
        if (!idleClosed && SteadyClock::now() - lastUse > kIdleClose) {
          destination->close();
          idleClosed = true;
        }
        auto deadline = SteadyClock::now() + kIdlePoll;
        if (auto due = queue_.nextRetry(config.name)) {
          auto wait = std::chrono::duration_cast<SteadyClock::duration>(*due - Clock::now());
          if (SteadyClock::now() + wait < deadline) deadline = SteadyClock::now() + wait;
        }
        lane.wakeup.waitUntil(seen, deadline);
        continue;
      }
      if (destination->maxBatch() > 1) {
        // Batching destinations (STOW-RS): take what else is due, up to the batch size.
        std::vector<Job> jobs{*job};
        while (static_cast<int>(jobs.size()) < destination->maxBatch()) {
          std::optional<Job> more = queue_.claimJob(config.name);
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
  if (it == lanes_.end()) return false;
  std::lock_guard<std::mutex> lock(it->second->breaker.mutex);
  return it->second->breaker.down;
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
  {
    std::lock_guard<std::mutex> lock(lane.breaker.mutex);
    if (!lane.breaker.down) return true;
    auto now = SteadyClock::now();
    if (now - lane.breaker.lastProbe < config.circuitBreaker.probeInterval) return false;
    lane.breaker.lastProbe = now;  // this worker probes; the others keep waiting
  }
  bool up = false;
  try {
    up = destination.probe();
  } catch (const std::exception& e) {
    log_.warning("probe of " + config.name + " failed: " + e.what());
  }
  if (!up) {
    failOver(lane);
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(lane.breaker.mutex);
    lane.breaker.down = false;
    lane.breaker.failures = 0;
  }
  metrics_.destinationUp(config.name, true);
  log_.warning("destination " + config.name + " answers again; its queue drains now");
  lane.wakeup.notify();
  return true;
}

void Delivery::recordAnswer(Lane& lane, bool answered) {
  const DestinationConfig& config = *lane.config;
  std::lock_guard<std::mutex> lock(lane.breaker.mutex);
  if (answered) {
    lane.breaker.failures = 0;
    return;
  }
  if (++lane.breaker.failures < config.circuitBreaker.failures || lane.breaker.down) return;
  lane.breaker.down = true;
  lane.breaker.downSince = lane.breaker.lastProbe = SteadyClock::now();
  metrics_.destinationUp(config.name, false);
  log_.error("destination " + config.name + " marked down after " + std::to_string(lane.breaker.failures) +
             " sends without an answer; its jobs wait, probing every " +
             std::to_string(config.circuitBreaker.probeInterval.count()) + " s");
}

void Delivery::audit(const AuditEntry& entry) {
  if (audit_ == nullptr) return;
  bool ok = audit_->record(entry);
  // Said once when writing starts failing, and once when it works again.
  if (auditFailing_.exchange(!ok) != !ok) {
    if (ok) {
      log_.warning("audit log " + audit_->path() + " is written again");
    } else {
      log_.error("audit log " + audit_->path() + ": cannot write (" + std::strerror(errno) +
                 "); delivery goes on, outcomes are only in this log until it is fixed");
    }
  }
}

void Delivery::failOver(Lane& lane) {
  const DestinationConfig& config = *lane.config;
  if (config.failover.empty()) return;
  std::chrono::steady_clock::duration downFor;
  {
    std::lock_guard<std::mutex> lock(lane.breaker.mutex);
    downFor = SteadyClock::now() - lane.breaker.downSince;
  }
  if (downFor < config.failoverAfter) return;
  int moved = queue_.moveWaitingJobs(config.name, config.failover, "failed over from " + config.name);
  if (moved == 0) return;
  metrics_.failedOver(config.name, config.failover, moved);
  audit(AuditEntry{"failed-over", 0, config.name, "", "", "", 0, 0, 0,
                   std::to_string(moved) + " waiting jobs moved to " + config.failover});
  log_.warning("destination " + config.name + " down for " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(downFor).count()) + " s: " +
               std::to_string(moved) + " waiting jobs moved to its failover " + config.failover);
  notify(config.failover);
}

namespace {

// The syntax to fall back to when the peer refused the one we had: the
// destination's own preference order first, then what it accepted (an
// uncompressed syntax first: every source can be decoded to it).
std::string fallbackSyntax(const DestinationConfig& config, const std::vector<std::string>& accepted,
                           const std::string& refused) {
  auto acceptable = [&](const std::string& uid) {
    const TransferSyntaxInfo* info = findTransferSyntax(uid);
    return uid != refused && info && info->canEncode &&
           std::find(accepted.begin(), accepted.end(), uid) != accepted.end();
  };
  for (const std::string& uid : config.transferSyntaxes) {
    if (acceptable(uid)) return uid;
  }
  for (const char* uid : {ts::kExplicitVRLittleEndian, ts::kImplicitVRLittleEndian}) {
    if (acceptable(uid)) return uid;
  }
  for (const std::string& uid : accepted) {
    if (acceptable(uid)) return uid;
  }
  return {};
}
}  // namespace

PreparedCache::Value Delivery::prepare(const Job& job, const std::string& wanted, const PreparedCache::Value& edited,
                                       const std::string& currentSyntax) {
  if (wanted.empty() || wanted == currentSyntax) return edited;
  const std::string key = cachekey::transcoded(job.instanceId, editsKey(job.route.modify), wanted);
  {
    // A conversion that just killed a worker (on a prepare thread, say) is
    // not tried again by the delivery that wanted it: that one fails with
    // the same reason, so one hostile file costs one worker, not two.
    // Only a fresh failure counts: an operator's retry later tries again.
    std::lock_guard<std::mutex> lock(crashedMutex_);
    auto it = crashed_.find(key);
    if (it != crashed_.end()) {
      const bool fresh = SteadyClock::now() - it->second.first < std::chrono::seconds(30);
      TranscoderCrash again = it->second.second;
      crashed_.erase(it);
      if (fresh) throw again;
    }
  }
  return cache_.get(key, [&] {
    auto started = SteadyClock::now();
    try {
      std::string out = transcoder_.transcode(*edited, wanted);
      metrics_.transcoded(transferSyntaxName(wanted), SteadyClock::now() - started);
      return out;
    } catch (const TranscoderCrash& crash) {
      metrics_.transcodeFailed(transferSyntaxName(wanted));
      metrics_.transcoderCrashed(transferSyntaxName(wanted), toString(crash.kind()));
      log_.error("delivery of " + job.instanceId + ": " + crash.what() + "; the worker was replaced");
      std::lock_guard<std::mutex> lock(crashedMutex_);
      for (auto it = crashed_.begin(); it != crashed_.end();) {
        it = SteadyClock::now() - it->second.first > std::chrono::seconds(30) ? crashed_.erase(it) : std::next(it);
      }
      if (crashed_.size() < 1024) crashed_.insert_or_assign(key, std::make_pair(SteadyClock::now(), crash));
      throw;
    } catch (const std::exception&) {
      metrics_.transcodeFailed(transferSyntaxName(wanted));
      throw;
    }
  });
}

PreparedCache::Value Delivery::readOriginal(const std::string& instanceId) {
  return cache_.get(cachekey::file(instanceId), [&] { return store_.readFile(instanceId); });
}

PreparedCache::Value Delivery::edit(const Job& job, const PreparedCache::Value& original) {
  if (job.route.modify.empty()) return original;
  return cache_.get(cachekey::edited(job.instanceId, editsKey(job.route.modify)),
                    [&] { return applyTagEdits(*original, job.route.modify); });
}

std::optional<Delivery::Prepared> Delivery::prepareJob(const DestinationConfig& config, const Job& job) {
  Prepared p{job, SteadyClock::now(), nullptr, nullptr, {}, {}};
  PreparedCache::Value original;
  try {
    original = readOriginal(job.instanceId);
  } catch (const InstanceGoneError& e) {
    fail(config, job, "the instance was deleted from Orthanc before it could be sent", true, "instance_deleted");
    return std::nullopt;
  } catch (const std::exception& e) {
    fail(config, job, std::string("cannot read the instance from Orthanc: ") + e.what(), false, "orthanc_read");
    return std::nullopt;
  }

  try {
    p.edited = edit(job, original);
  } catch (const std::exception& e) {
    fail(config, job, std::string("tag edits cannot be applied: ") + e.what(), true, "tag_edit");
    return std::nullopt;
  }

  try {
    p.source = readIdentity(*p.edited);
  } catch (const std::exception& e) {
    fail(config, job, std::string("the stored file cannot be read: ") + e.what(), true, "unreadable");
    return std::nullopt;
  }
  p.ready = p.edited;
  try {
    p.ready = prepare(job, job.route.transferSyntax, p.edited, p.source.transferSyntax);
  } catch (const std::exception& e) {
    std::string reason = "transcoding " + transferSyntaxName(p.source.transferSyntax) + " -> " +
                         transferSyntaxName(job.route.transferSyntax) + " failed: " + e.what();
    if (config.onTranscodeFailure == TranscodeFailurePolicy::Fail) {
      fail(config, job, reason, true, "transcode_failed");
      return std::nullopt;
    }
    log_.warning("delivery to " + config.name + ": " + reason + "; sending the original (OnTranscodeFailure)");
  }
  p.identity = p.ready == p.edited ? p.source : readIdentity(*p.ready);
  return p;
}

bool Delivery::deliver(Destination& destination, const DestinationConfig& config, const Job& job) {
  std::optional<Prepared> p = prepareJob(config, job);
  if (!p) return true;
  const int opened = destination.associationsOpened();
  SendResult result = destination.send(p->outgoing());
  countAssociations(config, destination, opened, result);
  fallBack(destination, config, *p, result);
  return settle(config, *p, result);
}

void Delivery::fallBack(Destination& destination, const DestinationConfig& config, Prepared& p, SendResult& result) {
  if (result.outcome != SendOutcome::Permanent) return;
  // Negotiation fallback: the peer refused this syntax for this SOP class
  // but accepted others; send it in the best of those instead of failing.
  std::vector<std::string> accepted = destination.acceptedTransferSyntaxes(p.identity.sopClassUid);
  if (accepted.empty() || std::find(accepted.begin(), accepted.end(), p.identity.transferSyntax) != accepted.end()) {
    return;
  }
  std::string fallback = fallbackSyntax(config, accepted, p.identity.transferSyntax);
  if (fallback.empty()) return;
  try {
    p.ready = prepare(p.job, fallback, p.edited, p.source.transferSyntax);
    p.identity = readIdentity(*p.ready);
    log_.warning("delivery to " + config.name + ": " + transferSyntaxName(p.source.transferSyntax) +
                 " refused by the peer, sending as " + transferSyntaxName(fallback));
    const int reopened = destination.associationsOpened();
    result = destination.send(p.outgoing());
    countAssociations(config, destination, reopened, result);
  } catch (const std::exception& e) {
    result.detail += "; fallback to " + transferSyntaxName(fallback) + " failed: " + e.what();
  }
}

void Delivery::countAssociations(const DestinationConfig& config, const Destination& destination, int before,
                                 const SendResult& result) {
  if (config.type != DestinationType::Dicom) return;
  for (int i = before; i < destination.associationsOpened(); ++i) metrics_.associationOpened(config.name, true);
  // A retry without any DIMSE status: the association could not be opened or broke.
  if (result.outcome == SendOutcome::Retry && result.dimseStatus == 0 && !result.answered) {
    metrics_.associationOpened(config.name, false);
  }
}

bool Delivery::deliverBatch(Destination& destination, const DestinationConfig& config, const std::vector<Job>& jobs) {
  std::vector<Prepared> prepared;
  for (const Job& job : jobs) {
    if (auto p = prepareJob(config, job)) prepared.push_back(std::move(*p));
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

bool Delivery::settle(const DestinationConfig& config, const Prepared& p, const SendResult& result) {
  const Job& job = p.job;
  const std::string& bytes = *p.ready;
  const DicomIdentity& identity = p.identity;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - p.started).count();
  char statusWord[16] = "connection";
  if (result.answered) std::snprintf(statusWord, sizeof statusWord, "no_commitment");
  if (result.dimseStatus != 0) std::snprintf(statusWord, sizeof statusWord, "status_%02xxx", result.dimseStatus >> 8);
  const bool answered = result.dimseStatus != 0 || result.answered;
  switch (result.outcome) {
    case SendOutcome::Delivered: {
      metrics_.delivered(config.name, transferSyntaxName(identity.transferSyntax), bytes.size(),
                         SteadyClock::now() - p.started, result.warning);
      metrics_.destinationUp(config.name, true);
      InstanceLeft left = queue_.completeJob(job.id);
      const bool last = left.jobs == 0;
      // Every destination has it, or those still waiting are down or paused
      // (their jobs will read it again when they are back): make room for
      // the instances still coming.
      auto down = [&](const std::string& destination) { return isDown(destination) || isPaused(destination); };
      if (std::all_of(left.waitingFor.begin(), left.waitingFor.end(), down)) {
        cache_.forgetInstance(job.instanceId);
      }
      // Audit line: identifiers only, never patient names.
      audit(AuditEntry{"delivered", job.id, config.name, identity.sopInstanceUid, job.instanceId,
                       transferSyntaxName(identity.transferSyntax), bytes.size(), ms, job.attempts,
                       result.warning ? result.detail : ""});
      log_.info("delivered job=" + std::to_string(job.id) + " destination=" + config.name +
                " sop=" + identity.sopInstanceUid + " syntax=" + transferSyntaxName(identity.transferSyntax) +
                " bytes=" + std::to_string(bytes.size()) + " ms=" + std::to_string(ms) +
                " attempt=" + std::to_string(job.attempts) + (result.warning ? " warning=" + result.detail : ""));
      if (last && config_.deleteAfterDelivery) {
        try {
          queue_.flush();  // the completion must outlive a power loss before the instance goes
          store_.deleteInstance(job.instanceId);
        } catch (const std::exception& e) {
          log_.warning("delivered everywhere but cannot delete instance " + job.instanceId + ": " + e.what());
        }
      }
      return true;
    }
    case SendOutcome::Retry:
      // Not answered (no DIMSE status): the destination did not answer at all.
      metrics_.destinationUp(config.name, answered);
      fail(config, job, result.detail, false, statusWord);
      return answered;
    case SendOutcome::Permanent:
      metrics_.destinationUp(config.name, true);
      fail(config, job, result.detail, true, result.dimseStatus != 0 ? statusWord : "refused");
      return true;
  }
  return true;
}

void Delivery::fail(const DestinationConfig& config, const Job& job, const std::string& detail, bool permanent,
                    const std::string& reason) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  if (!permanent && job.attempts < config.retry.maxAttempts) {
    auto delay = backoffDelay(config.retry, job.attempts, random);
    queue_.retryJob(job.id, detail, Clock::now() + delay);
    metrics_.retried(config.name, reason);
    audit(AuditEntry{"retry", job.id, config.name, job.sopInstanceUid, job.instanceId, "", 0, 0, job.attempts,
                     detail});
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(delay.count()) / 1000.0);
    log_.warning("delivery to " + config.name + " failed (job " + std::to_string(job.id) + ", attempt " +
                 std::to_string(job.attempts) + "), retrying in " + seconds + " s: " + detail);
    return;
  }
  std::string why = permanent ? detail
                                 : "gave up after " + std::to_string(job.attempts) + " attempts: " + detail;
  queue_.killJob(job.id, why);
  metrics_.deadLettered(config.name, permanent ? reason : "max_attempts");
  audit(AuditEntry{"dead", job.id, config.name, job.sopInstanceUid, job.instanceId, "", 0, 0, job.attempts, why});
  log_.error("delivery to " + config.name + ": job " + std::to_string(job.id) + " (SOP " + job.sopInstanceUid +
             ") moved to dead letters: " + why + "; retry with POST /router/queue/" + std::to_string(job.id) +
             "/retry once fixed");
}

}  // namespace router
