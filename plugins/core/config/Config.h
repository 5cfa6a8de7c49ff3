// The validated "Router" configuration. Built once by parseConfig() from
// Orthanc's whole configuration document, then immutable: every thread may
// read it without locking.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <json/value.h>

namespace router {

struct RetryPolicy {
  std::chrono::seconds initialDelay{5};
  double multiplier = 2.0;
  std::chrono::seconds maxDelay{600};
  int maxAttempts = 20;
};

// After `failures` consecutive sends the destination did not answer, it is
// marked down: no job is taken for it, and it is probed (C-ECHO, HTTP GET)
// every probeInterval until it answers.
struct CircuitBreaker {
  int failures = 3;
  std::chrono::seconds probeInterval{10};
};

enum class DestinationType { Dicom, DicomWeb, OrthancPeer, Folder };

enum class TranscodeFailurePolicy { SendOriginal, Fail };

struct DestinationConfig {
  std::string name;
  DestinationType type = DestinationType::Folder;

  // dicom
  std::string aet;
  std::string host;
  int port = 0;
  int associations = 1;
  std::vector<std::string> transferSyntaxes;  // UIDs, in order of preference; empty = learn
  std::chrono::seconds timeout{30};           // network timeout for one DIMSE exchange
  // Storage commitment: a job counts as delivered only once the peer's
  // N-EVENT-REPORT says it committed the instance (and only then may
  // DeleteAfterDelivery remove it from Orthanc).
  bool storageCommitment = false;
  std::chrono::seconds storageCommitmentTimeout{120};  // wait for the report, then retry

  // dicomweb / orthanc
  std::string url;
  std::string username;
  std::string password;
  std::map<std::string, std::string> headers;  // extra HTTP headers (e.g. an API key)
  int batchSize = 1;                           // dicomweb: instances per STOW-RS request

  // folder
  std::string path;

  TranscodeFailurePolicy onTranscodeFailure = TranscodeFailurePolicy::SendOriginal;
  RetryPolicy retry;
  CircuitBreaker circuitBreaker;
  // Once this destination has been down (circuit open) for failoverAfter, its
  // waiting jobs move to the destination named here; empty = no failover.
  std::string failover;
  std::chrono::seconds failoverAfter{300};
};

// Router.Transcoding: the worker processes every conversion runs in.
struct TranscodingConfig {
  std::string workerExecutable;  // empty: orthanc-router-transcoder beside the plugin
  int workers = 0;               // 0: one per core
  std::chrono::seconds timeLimit{120};  // one conversion; then the worker is killed
  int memoryLimitMb = 4096;             // address space of one worker
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
};

std::string toString(DestinationType type);

// Reads the "Router" section of Orthanc's configuration (and "DicomModalities"
// and "DicomAet" from the same document). Relative paths are resolved against
// baseDir. Throws ConfigError with one line naming the key and the problem.
Config parseConfig(const Json::Value& orthancConfiguration, const std::string& baseDir = "");

}  // namespace router
