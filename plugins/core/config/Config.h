// The validated "Router" configuration. Built once by parseConfig() from
// Orthanc's whole configuration document, then immutable: every thread may
// read it without locking.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <json/value.h>

#include "plugins/core/config/DeidConfig.h"
#include "plugins/core/destinations/DestinationConfig.h"
#include "plugins/core/queue/Queue.h"

namespace router {

// Router.Transcoding: the worker processes every conversion runs in.
struct TranscodingConfig {
  std::string workerExecutable;  // empty: orthanc-router-transcoder beside the plugin
  int workers = 0;               // 0: one per core
  std::chrono::seconds timeLimit{120};  // one conversion; then the worker is killed
  int memoryLimitMb = 4096;             // address space of one worker
  // The workers' scheduling niceness: Orthanc receiving from modalities
  // comes first when the cores are busy, conversions take what is left.
  int nice = 10;
  // Lossy targets' setting by transfer syntax UID (TranscodeOptions::quality:
  // JPEG and HTJ2K quality, JPEG 2000 ratio, JPEG-LS NEAR); absent: the
  // codec's default.
  std::map<std::string, int> quality;
  // Serve Orthanc's own transcoding too (HostTranscoding.h).
  bool forOrthanc = true;
};

struct Config {
  std::string rulesDir;
  std::string queueDatabase;
  int threads = 4;
  std::string localAet = "ORTHANC";  // our calling AE title (Orthanc's DicomAet)
  std::map<std::string, DestinationConfig> destinations;
  RetryPolicy retry;
  CircuitBreaker circuitBreaker;
  bool deleteAfterDelivery = false;
  // A re-stored instance (same Orthanc id, a new NewInstance change: Orthanc
  // stores it again only with "OverwriteInstances": true) is routed again.
  bool routeResentInstances = true;
  // A user of Orthanc's RegisteredUsers that may GET /router/metrics and
  // nothing else (for Prometheus); empty = no such restriction.
  std::string metricsUser;
  // File that gets one JSON line per delivery outcome; empty = none (the
  // outcomes are then only in Orthanc's log).
  std::string auditLog;
  TranscodingConfig transcoding;
  // Routed intake items older than this leave the queue (HistoryPruner).
  std::chrono::seconds historyRetention{7 * 24 * 3600};
  // Router.Deidentification: the projects routes may de-identify for.
  DeidentificationConfig deidentification;
  // This appliance among those sharing one queue: NodeName (default: the
  // host name) and LeaseSeconds, how long its claims outlive its last
  // heartbeat before another node takes them over.
  QueueNode node;
};

// Reads the "Router" section of Orthanc's configuration (and "DicomModalities"
// and "DicomAet" from the same document). Relative paths are resolved against
// baseDir. Throws ConfigError with one line naming the key and the problem.
Config parseConfig(const Json::Value& orthancConfiguration, const std::string& baseDir = "");

}  // namespace router
