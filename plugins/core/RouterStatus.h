// What GET /router/status reports, as plain data: the core fills it in
// (Router::status()), plugins/orthanc turns it into JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lua/RuleEngine.h"
#include "plugins/core/Lifecycle.h"
#include "plugins/core/model/StatusField.h"
#include "plugins/core/queue/Queue.h"

namespace router {

struct RulesStatus {
  std::string directory;
  std::string version;
  std::chrono::system_clock::time_point loadedAt;
  std::vector<std::string> files;
  std::optional<RuleFailure> lastError;  // the newest reload was refused: why
  std::chrono::system_clock::time_point lastErrorAt;
};

struct DestinationStatus {
  std::string name;
  std::string kind;
  bool up = true;
  bool paused = false;
  StatusFields settings;  // the kind's own (AET, Url, Path, ...)
  std::string failover;   // empty: none
  std::chrono::seconds failoverAfter{0};
  std::map<JobState, int64_t> jobs;  // every state, 0 included
  std::map<BatchState, int64_t> batches;  // waiting, on-hold, released (being sent), 0 included
  double oldestJobAgeSeconds = 0;    // of its pending jobs; 0 when none
  std::string window;                // its delivery windows; empty: always open
  bool windowOpen = true;
  std::optional<std::chrono::system_clock::time_point> opensAt;  // when closed
};

struct TranscodingStatus {
  int64_t workers = 0;  // running now
  std::string workerExecutable;
  std::string lockdown;
  uint64_t replacements = 0;
};

struct RouterStatus {
  RulesStatus rules;
  std::map<IntakeState, int64_t> intake;  // New, Routing, RuleFailed
  std::vector<DestinationStatus> destinations;  // by name
  std::map<BatchState, int64_t> studyDecisions;  // waiting for route_study(): waiting, on-hold, released
  TranscodingStatus transcoding;
  std::string queueDatabase;
  std::string node;               // this appliance's NodeName
  std::vector<NodeState> nodes;   // every node of the queue, by name
  RunState state = RunState::Created;
};

}  // namespace router
