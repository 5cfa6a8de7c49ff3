#include "plugins/core/config/Config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

#include <unistd.h>

#include "plugins/core/ConfigSection.h"
#include "plugins/core/queue/Queue.h"
#include "plugins/core/Error.h"
#include "plugins/core/destinations/registry/Kinds.h"
#include "plugins/core/destinations/dicom/DicomKind.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

RetryPolicy parseRetry(const ConfigSection& parent, const std::string& name, const RetryPolicy& base) {
  if (!parent.has(name)) return base;
  ConfigSection s(parent.raw(name), parent.key(name), {"InitialDelay", "Multiplier", "MaxDelay", "MaxAttempts"});
  RetryPolicy retry;
  retry.initialDelay = std::chrono::seconds(s.integer("InitialDelay", static_cast<int>(base.initialDelay.count()), 0, 86400));
  retry.multiplier = s.number("Multiplier", base.multiplier, 1.0, 100.0);
  retry.maxDelay = std::chrono::seconds(s.integer("MaxDelay", static_cast<int>(base.maxDelay.count()), 0, 7 * 86400));
  retry.maxAttempts = s.integer("MaxAttempts", base.maxAttempts, 1, 1000000);
  if (retry.maxDelay < retry.initialDelay) {
    ConfigSection::fail(s.key("MaxDelay"), "must not be smaller than InitialDelay");
  }
  return retry;
}

CircuitBreaker parseBreaker(const ConfigSection& parent, const CircuitBreaker& base) {
  if (!parent.has("CircuitBreaker")) return base;
  ConfigSection s(parent.raw("CircuitBreaker"), parent.key("CircuitBreaker"), {"Failures", "ProbeInterval"});
  CircuitBreaker breaker;
  breaker.failures = s.integer("Failures", base.failures, 1, 1000);
  breaker.probeInterval =
      std::chrono::seconds(s.integer("ProbeInterval", static_cast<int>(base.probeInterval.count()), 1, 3600));
  return breaker;
}

// Transcoding.Quality: what the setting of each lossy target means, and its range.
struct LossySetting {
  const char* uid;
  int min, max;
  const char* meaning;
};
constexpr LossySetting kLossySettings[] = {
    {ts::kJPEGBaseline8Bit, 1, 100, "a quality 1..100"},
    {ts::kJPEGExtended12Bit, 1, 100, "a quality 1..100"},
    {ts::kHTJ2K, 1, 100, "a quality 1..100"},
    {ts::kJPEG2000, 1, 1000, "a compression ratio 1..1000"},
    {ts::kJPEGLSNearLossless, 1, 127, "NEAR, the largest sample error, 1..127"},
};

std::map<std::string, int> parseQuality(const ConfigSection& parent) {
  std::map<std::string, int> quality;
  const Json::Value& value = parent.raw("Quality");
  const std::string key = parent.key("Quality");
  std::string names;
  for (const LossySetting& setting : kLossySettings) {
    names += (names.empty() ? "" : ", ") + transferSyntaxName(setting.uid);
  }
  if (!value.isObject()) ConfigSection::fail(key, "must be an object: lossy keyword -> number (" + names + ")");
  for (const std::string& name : value.getMemberNames()) {
    const std::optional<std::string> uid = resolveTransferSyntax(name);
    const LossySetting* setting = nullptr;
    for (const LossySetting& s : kLossySettings) {
      if (uid && *uid == s.uid) setting = &s;
    }
    if (setting == nullptr) {
      ConfigSection::fail(key + "." + name, "not a lossy target the appliance encodes (" + names + ")");
    }
    const Json::Value& number = value[name];
    if (!number.isInt() || number.asInt() < setting->min || number.asInt() > setting->max) {
      ConfigSection::fail(key + "." + name, std::string("must be ") + setting->meaning);
    }
    quality[setting->uid] = number.asInt();
  }
  return quality;
}

TranscodingConfig parseTranscoding(const ConfigSection& parent, const std::string& baseDir) {
  TranscodingConfig t;
  if (!parent.has("Transcoding")) return t;
  ConfigSection s(parent.raw("Transcoding"), parent.key("Transcoding"),
            {"WorkerExecutable", "Workers", "TimeLimit", "MemoryLimit", "Nice", "Quality", "ForOrthanc"});
  if (s.has("Quality")) t.quality = parseQuality(s);
  t.forOrthanc = s.boolean("ForOrthanc", true);
  if (s.has("WorkerExecutable")) {
    t.workerExecutable = resolvePath(s.string("WorkerExecutable", "", true), baseDir);
    if (access(t.workerExecutable.c_str(), X_OK) != 0)
      ConfigSection::fail(s.key("WorkerExecutable"), "\"" + t.workerExecutable + "\" is not an executable file");
  }
  t.workers = s.integer("Workers", 0, 0, 64);
  t.timeLimit = std::chrono::seconds(s.integer("TimeLimit", 120, 1, 86400));
  t.memoryLimitMb = s.integer("MemoryLimit", 4096, 64, 1 << 20);
  t.nice = s.integer("Nice", 10, 0, 19);
  return t;
}

// "HH:MM" -> minutes after midnight; "24:00" ends a day.
int parseClock(const Json::Value& value, const std::string& key) {
  const std::string text = value.isString() ? value.asString() : "";
  int hours = -1, minutes = -1;
  char colon = 0;
  if (text.size() == 5 && std::sscanf(text.c_str(), "%2d%c%2d", &hours, &colon, &minutes) == 3 && colon == ':' &&
      hours >= 0 && minutes >= 0 && minutes < 60 && (hours < 24 || (hours == 24 && minutes == 0))) {
    return hours * 60 + minutes;
  }
  ConfigSection::fail(key, "must be a local time \"HH:MM\" (00:00 to 24:00)");
}

// Router.Destinations.X.Window: { "From": "20:00", "To": "06:00", "Days": ["Sat", "Sun"] }, or a list of them.
std::vector<DeliveryWindow> parseWindows(const Json::Value& value, const std::string& key) {
  static const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::vector<DeliveryWindow> windows;
  const bool list = value.isArray();
  for (Json::ArrayIndex i = 0; i < (list ? value.size() : 1); ++i) {
    const Json::Value& item = list ? value[i] : value;
    const std::string at = list ? key + "[" + std::to_string(i) + "]" : key;
    if (!item.isObject()) ConfigSection::fail(at, "must be { \"From\": \"HH:MM\", \"To\": \"HH:MM\", \"Days\": [...] }");
    ConfigSection w(item, at, {"From", "To", "Days"});
    DeliveryWindow window;
    window.fromMinute = parseClock(w.raw("From"), w.key("From"));
    window.toMinute = parseClock(w.raw("To"), w.key("To"));
    if (window.fromMinute == window.toMinute) ConfigSection::fail(w.key("To"), "must differ from From");
    std::string days;
    if (w.has("Days")) {
      const Json::Value& named = w.raw("Days");
      if (!named.isArray() || named.empty()) ConfigSection::fail(w.key("Days"), "must be a list such as [\"Sat\", \"Sun\"]");
      for (const Json::Value& day : named) {
        std::string name = day.isString() ? day.asString() : "";
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        const auto found = std::find(std::begin(kDays), std::end(kDays), name.substr(0, 3));
        if (name.size() < 3 || found == std::end(kDays)) {
          ConfigSection::fail(w.key("Days"), "unknown day \"" + (day.isString() ? day.asString() : "?") +
                                                 "\" (Mon, Tue, Wed, Thu, Fri, Sat, Sun)");
        }
        window.weekdays.insert(static_cast<int>(found - std::begin(kDays)));
        days += (days.empty() ? "" : ",") + day.asString();
      }
    }
    window.text = (days.empty() ? "" : days + " ") + w.raw("From").asString() + "-" + w.raw("To").asString();
    windows.push_back(std::move(window));
  }
  if (windows.empty()) ConfigSection::fail(key, "an empty list: leave Window out for a destination always open");
  return windows;
}

void checkName(const std::string& name, const std::string& key) {
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
            });
  if (!ok) ConfigSection::fail(key, "destination names use letters, digits, '_', '-' and '.' (at most 64)");
}

DestinationConfig parseDestination(const std::string& name, const Json::Value& value, const std::string& path,
                                   const RetryPolicy& retry, const CircuitBreaker& breaker,
                                   const std::string& baseDir) {
  if (!value.isObject()) ConfigSection::fail(path, "must be a JSON object");
  if (!value.isMember("Type")) ConfigSection::fail(path + ".Type", "missing (" + destinationKindList() + ")");
  if (!value["Type"].isString()) ConfigSection::fail(path + ".Type", "must be a string");
  const std::string type = value["Type"].asString();
  const DestinationKind* kind = findDestinationKind(type);
  if (!kind) {
    ConfigSection::fail(path + ".Type",
                        "unknown destination type \"" + type + "\" (use " + destinationKindList() + ")");
  }

  std::set<std::string> known = {"Type", "Retry", "OnTranscodeFailure", "CircuitBreaker", "Failover",
                                 "FailoverAfter", "Window"};
  for (const std::string& key : kind->keys()) known.insert(key);
  ConfigSection s(value, path, known);
  DestinationConfig d;
  d.name = name;
  d.retry = parseRetry(s, "Retry", retry);
  d.circuitBreaker = parseBreaker(s, breaker);
  std::string policy = s.string("OnTranscodeFailure", "send-original");
  if (policy == "send-original") {
    d.onTranscodeFailure = TranscodeFailurePolicy::SendOriginal;
  } else if (policy == "fail") {
    d.onTranscodeFailure = TranscodeFailurePolicy::Fail;
  } else {
    ConfigSection::fail(s.key("OnTranscodeFailure"), "must be \"send-original\" or \"fail\"");
  }
  d.failover = s.string("Failover", "");
  if (d.failover == name) ConfigSection::fail(s.key("Failover"), "cannot name the destination itself");
  d.failoverAfter = std::chrono::seconds(s.integer("FailoverAfter", 300, 0, 7 * 24 * 3600));
  if (s.has("Window")) d.windows = parseWindows(s.raw("Window"), s.key("Window"));
  d.settings = kind->parse(s, baseDir);
  return d;
}

// An Orthanc "DicomModalities" entry, as a dicom destination with the
// appliance-wide retry and circuit breaker.
DestinationConfig parseModality(const std::string& alias, const Json::Value& value, const RetryPolicy& retry,
                                const CircuitBreaker& breaker) {
  DestinationConfig d;
  d.name = alias;
  d.retry = retry;
  d.circuitBreaker = breaker;
  d.settings = parseOrthancModality(value, "DicomModalities." + alias);
  return d;
}

// A failover names another destination, and following failovers never comes
// back to where it started (jobs would move in a circle while all are down).
void checkFailovers(const Config& config) {
  for (const auto& [name, destination] : config.destinations) {
    if (destination.failover.empty()) continue;
    std::string key = "Router.Destinations." + name + ".Failover";
    if (!config.destinations.count(destination.failover)) {
      ConfigSection::fail(key, "names \"" + destination.failover + "\", which is not a destination");
    }
    std::set<std::string> seen = {name};
    for (std::string next = destination.failover; !next.empty(); next = config.destinations.at(next).failover) {
      if (!seen.insert(next).second) ConfigSection::fail(key, "failovers form a circle through \"" + next + "\"");
    }
  }
}

}  // namespace

Config parseConfig(const Json::Value& orthanc, const std::string& baseDir) {
  if (!orthanc.isObject() || !orthanc.isMember("Router")) {
    ConfigSection::fail("Router", "section missing from Orthanc's configuration");
  }
  ConfigSection s(orthanc["Router"], "Router",
            {"Rules", "QueueDatabase", "Threads", "Destinations", "Retry", "CircuitBreaker",
             "DeleteAfterDelivery", "RouteResentInstances", "MetricsUser", "AuditLog", "Transcoding", "HistoryRetention",
             "Deidentification", "NodeName", "LeaseSeconds"});
  Config config;
  config.rulesDir = resolvePath(s.string("Rules", "", true), baseDir);
  std::error_code ec;
  if (!std::filesystem::is_directory(config.rulesDir, ec)) {
    ConfigSection::fail("Router.Rules", "folder \"" + config.rulesDir + "\" does not exist or is not a folder");
  }
  std::string storage = orthanc.isMember("StorageDirectory") && orthanc["StorageDirectory"].isString()
                            ? orthanc["StorageDirectory"].asString()
                            : "OrthancStorage";
  config.queueDatabase = s.string("QueueDatabase", storage + "/router-queue.sqlite");
  if (!isPostgresUri(config.queueDatabase)) config.queueDatabase = resolvePath(config.queueDatabase, baseDir);
  config.threads = s.integer("Threads", 4, 1, 64);
  config.retry = parseRetry(s, "Retry", RetryPolicy{});
  config.circuitBreaker = parseBreaker(s, CircuitBreaker{});
  config.deleteAfterDelivery = s.boolean("DeleteAfterDelivery", false);
  config.routeResentInstances = s.boolean("RouteResentInstances", true);
  config.metricsUser = s.string("MetricsUser", "");
  if (s.has("AuditLog")) config.auditLog = resolvePath(s.string("AuditLog", "", true), baseDir);
  config.transcoding = parseTranscoding(s, baseDir);
  config.historyRetention = std::chrono::seconds(s.integer("HistoryRetention", 7 * 24 * 3600, 0, 3650 * 24 * 3600));
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "%s", "local");
  config.node.name = s.string("NodeName", host);
  if (config.node.name.empty()) ConfigSection::fail("Router.NodeName", "must not be empty");
  config.node.lease = std::chrono::seconds(s.integer("LeaseSeconds", 60, 5, 3600));
  if (s.has("Deidentification")) config.deidentification = parseDeidentification(s.raw("Deidentification"), baseDir);
  if (orthanc.isMember("DicomAet") && orthanc["DicomAet"].isString()) {
    config.localAet = orthanc["DicomAet"].asString();
  }

  if (s.has("Destinations")) {
    const Json::Value& list = s.raw("Destinations");
    if (!list.isObject()) ConfigSection::fail("Router.Destinations", "must be a JSON object: name -> destination");
    for (const std::string& name : list.getMemberNames()) {
      std::string path = "Router.Destinations." + name;
      checkName(name, path);
      config.destinations[name] = parseDestination(name, list[name], path, config.retry, config.circuitBreaker, baseDir);
    }
  }
  if (orthanc.isMember("DicomModalities")) {
    const Json::Value& modalities = orthanc["DicomModalities"];
    if (modalities.isObject()) {
      for (const std::string& alias : modalities.getMemberNames()) {
        if (config.destinations.count(alias)) continue;  // the Router section wins
        checkName(alias, "DicomModalities." + alias);
        config.destinations[alias] = parseModality(alias, modalities[alias], config.retry, config.circuitBreaker);
      }
    }
  }
  checkFailovers(config);
  return config;
}

}  // namespace router
