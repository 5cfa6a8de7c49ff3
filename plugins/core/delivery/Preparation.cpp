#include "plugins/core/delivery/Preparation.h"

#include <algorithm>
#include <optional>

#include "plugins/core/ThreadName.h"
#include "plugins/core/dicom/TagEditor.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

// How long a crashed conversion is held against the delivery that wanted it.
constexpr auto kCrashMemo = std::chrono::seconds(30);
constexpr size_t kMaxCrashMemos = 1024;

// What identifies a route's changes to the file in cache keys: its tag
// edits and its de-identification (project, profile, options).
std::string editsKey(const Route& route) {
  std::string key;
  for (const auto& [name, value] : route.modify) key += name + (value ? "=" + *value : "~") + "\x1f";
  if (route.deidentify.active()) key += "\x1e" + deid::Projects::cacheKey(route.deidentify);
  return key;
}

bool changesFile(const Route& route) { return !route.modify.empty() || route.deidentify.active(); }

const DeidentificationConfig& noProjects() {
  static const DeidentificationConfig kNone;
  return kNone;
}


// How many queued conversions each prepare thread may have waiting. A
// burst leaves a backlog of conversions when the modality stops sending;
// with only a few queued ahead (2 per thread before), the rest was
// converted one at a time by the destination's lane, on one core (e2e
// bench c: delivery ended 1.3x its CPU floor; 1.09x with 64). What waits
// here is a few names; the results land in the bounded prepared cache.
constexpr size_t kAheadPerThread = 64;

}  // namespace

// The destination's own preference order first, then what it accepted (an
// uncompressed syntax first: every source can be decoded to it).
std::string fallbackSyntax(const DestinationConfig& config, const std::vector<std::string>& accepted,
                           const std::string& refused) {
  auto acceptable = [&](const std::string& uid) {
    const TransferSyntaxInfo* info = findTransferSyntax(uid);
    return uid != refused && info && info->canEncode &&
           std::find(accepted.begin(), accepted.end(), uid) != accepted.end();
  };
  const std::vector<std::string> preferred =
      config.settings ? config.settings->preferredTransferSyntaxes() : std::vector<std::string>{};
  for (const std::string& uid : preferred) {
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

Preparation::Preparation(InstanceStore& store, const Transcoder& transcoder, PreparedCache& cache, Metrics& metrics,
                         Log& log, SteadyNow now, std::map<std::string, int> lossyQuality,
                         const DeidentificationConfig* deidentification, PseudonymQueue* pseudonyms)
    : store_(store), transcoder_(transcoder), cache_(cache), metrics_(metrics), log_(log), now_(std::move(now)),
      lossyQuality_(std::move(lossyQuality)),
      projects_(deidentification ? *deidentification : noProjects(), pseudonyms),
      lifecycle_([this] {
        std::vector<std::thread> threads;
        {
          std::lock_guard<std::mutex> lock(aheadMutex_);
          ahead_.clear();
          threads.swap(aheadThreads_);
        }
        for (auto& t : threads) {
          if (t.joinable()) t.join();
        }
      }) {
  lifecycle_.interrupts(aheadWakeup_);
}

Preparation::~Preparation() { stop(); }

void Preparation::start(unsigned threads) {
  lifecycle_.start([this, threads] {
    // Under the mutex: ahead() reads aheadThreads_ from routing's threads.
    std::lock_guard<std::mutex> lock(aheadMutex_);
    for (unsigned i = 0; i < threads; ++i) {
      aheadThreads_.emplace_back([this] {
        nameThisThread("router-prepare");
        runAhead();
      });
    }
  });
}

void Preparation::stop() { lifecycle_.stop(); }

void Preparation::ahead(const std::string& instanceId, const std::string& storedSyntax, const Route& route) {
  if (route.transferSyntax.empty() || route.transferSyntax == storedSyntax) return;
  {
    std::lock_guard<std::mutex> lock(aheadMutex_);
    if (aheadThreads_.empty() || ahead_.size() >= kAheadPerThread * aheadThreads_.size()) return;
    ahead_.push_back(Ahead{instanceId, storedSyntax, route});
  }
  aheadWakeup_.notify();
}

void Preparation::runAhead() {
  while (!aheadWakeup_.stopped()) {
    const uint64_t seen = aheadWakeup_.generation();
    std::optional<Ahead> next;
    {
      std::lock_guard<std::mutex> lock(aheadMutex_);
      if (!ahead_.empty()) {
        next = std::move(ahead_.front());
        ahead_.pop_front();
      }
    }
    if (!next) {
      aheadWakeup_.wait(seen);
      continue;
    }
    try {
      Job job;
      job.instanceId = next->instanceId;
      job.route = next->route;
      convert(job, job.route.transferSyntax, edit(job, readOriginal(job.instanceId)), next->storedSyntax);
    } catch (const std::exception&) {
      // Not cached: the delivery meets the same error itself and acts on it.
    }
  }
}

PreparedCache::Value Preparation::readOriginal(const std::string& instanceId) {
  return cache_.get(cachekey::file(instanceId), [&] { return store_.readFile(instanceId); });
}

PreparedCache::Value Preparation::edit(const Job& job, const PreparedCache::Value& original) {
  if (!changesFile(job.route)) return original;
  return cache_.get(cachekey::edited(job.instanceId, editsKey(job.route)), [&] {
    std::string edited = job.route.modify.empty() ? std::string() : applyTagEdits(*original, job.route.modify);
    if (!job.route.deidentify.active()) return edited;
    // After the edits: a rule's modify cannot put back what this removes.
    deid::DeidentifiedFile out = projects_.apply(job.route.modify.empty() ? *original : edited, job.route.deidentify);
    metrics_.deidentified(job.route.deidentify.project);
    return std::move(out.part10);
  });
}

PreparedCache::Value Preparation::convert(const Job& job, const std::string& wanted,
                                          const PreparedCache::Value& edited, const std::string& currentSyntax) {
  if (wanted.empty() || wanted == currentSyntax) return edited;
  const std::string key = cachekey::transcoded(job.instanceId, editsKey(job.route), wanted);
  {
    // A conversion that just killed a worker (on a prepare thread, say) is
    // not tried again by the delivery that wanted it: that one fails with
    // the same reason. Only a fresh failure counts, and only once: an
    // operator's retry later tries again.
    std::lock_guard<std::mutex> lock(crashedMutex_);
    auto it = crashed_.find(key);
    if (it != crashed_.end()) {
      const bool fresh = now_() - it->second.first < kCrashMemo;
      TranscoderCrash again = it->second.second;
      crashed_.erase(it);
      if (fresh) throw again;
    }
  }
  return cache_.get(key, [&] {
    auto started = std::chrono::steady_clock::now();
    try {
      TranscodeOptions options;
      auto quality = lossyQuality_.find(wanted);
      if (quality != lossyQuality_.end()) options.quality = quality->second;
      std::string out = transcoder_.transcode(*edited, wanted, options);
      metrics_.transcoded(transferSyntaxName(wanted), std::chrono::steady_clock::now() - started);
      return out;
    } catch (const TranscoderCrash& crash) {
      metrics_.transcodeFailed(transferSyntaxName(wanted));
      metrics_.transcoderCrashed(transferSyntaxName(wanted), toString(crash.kind()));
      log_.error("delivery of " + job.instanceId + ": " + crash.what() + "; the worker was replaced");
      rememberCrash(key, crash);
      throw;
    } catch (const std::exception&) {
      metrics_.transcodeFailed(transferSyntaxName(wanted));
      throw;
    }
  });
}

void Preparation::rememberCrash(const std::string& key, const TranscoderCrash& crash) {
  std::lock_guard<std::mutex> lock(crashedMutex_);
  const auto now = now_();
  for (auto it = crashed_.begin(); it != crashed_.end();) {
    it = now - it->second.first > kCrashMemo ? crashed_.erase(it) : std::next(it);
  }
  if (crashed_.size() < kMaxCrashMemos) crashed_.insert_or_assign(key, std::make_pair(now, crash));
}

std::variant<Prepared, PrepareFailure> Preparation::prepare(const DestinationConfig& config, const Job& job) {
  Prepared p{job, std::chrono::steady_clock::now(), nullptr, nullptr, {}, {}};
  PreparedCache::Value original;
  try {
    original = readOriginal(job.instanceId);
  } catch (const InstanceGoneError&) {
    return PrepareFailure{"the instance was deleted from Orthanc before it could be sent", true, "instance_deleted"};
  } catch (const std::exception& e) {
    return PrepareFailure{std::string("cannot read the instance from Orthanc: ") + e.what(), false, "orthanc_read"};
  }

  try {
    p.edited = edit(job, original);
  } catch (const deid::DeidentificationRefused& e) {
    metrics_.deidentificationRefused(job.route.deidentify.project, "burned_in");
    return PrepareFailure{e.what(), true, "deid_refused"};
  } catch (const deid::MappingTableError& e) {
    // The queue database (a full disk): nothing wrong with the instance, so later.
    return PrepareFailure{"de-identification for project " + job.route.deidentify.project + ": " + e.what(), false,
                          "deid_table"};
  } catch (const deid::UnknownProjectError& e) {
    metrics_.deidentificationRefused(job.route.deidentify.project, "unknown_project");
    return PrepareFailure{e.what(), true, "deid_refused"};
  } catch (const std::exception& e) {
    bool editsFailed = !job.route.deidentify.active();
    if (!editsFailed && !job.route.modify.empty()) {
      try {  // which of the two failed: the edits alone tell
        applyTagEdits(*original, job.route.modify);
      } catch (const std::exception&) {
        editsFailed = true;
      }
    }
    if (editsFailed) return PrepareFailure{std::string("tag edits cannot be applied: ") + e.what(), true, "tag_edit"};
    metrics_.deidentificationRefused(job.route.deidentify.project, "failed");
    return PrepareFailure{"de-identification for project " + job.route.deidentify.project + " failed: " + e.what(),
                          true, "deid_failed"};
  }

  try {
    p.source = readIdentity(*p.edited);
  } catch (const std::exception& e) {
    return PrepareFailure{std::string("the stored file cannot be read: ") + e.what(), true, "unreadable"};
  }
  p.ready = p.edited;
  try {
    p.ready = convert(job, job.route.transferSyntax, p.edited, p.source.transferSyntax);
  } catch (const std::exception& e) {
    std::string reason = "transcoding " + transferSyntaxName(p.source.transferSyntax) + " -> " +
                         transferSyntaxName(job.route.transferSyntax) + " failed: " + e.what();
    if (config.onTranscodeFailure == TranscodeFailurePolicy::Fail) {
      return PrepareFailure{reason, true, "transcode_failed"};
    }
    log_.warning("delivery to " + config.name + ": " + reason + "; sending the original (OnTranscodeFailure)");
  }
  p.identity = p.ready == p.edited ? p.source : readIdentity(*p.ready);
  return p;
}

void Preparation::reencode(Prepared& p, const std::string& syntax) {
  PreparedCache::Value ready = convert(p.job, syntax, p.edited, p.source.transferSyntax);
  DicomIdentity identity = readIdentity(*ready);
  p.ready = std::move(ready);
  p.identity = std::move(identity);
}

}  // namespace router
