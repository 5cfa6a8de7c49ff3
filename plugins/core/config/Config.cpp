#include "plugins/core/config/Config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "plugins/core/Error.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

// Reads one JSON object, remembering its path ("Router.Destinations.pacs") so
// every error names the key, and refusing keys it does not know (a typo in a
// hospital's config must not be silently ignored).
class Section {
 public:
  Section(const Json::Value& value, std::string path, std::set<std::string> known)
      : value_(value), path_(std::move(path)) {
    if (!value_.isObject()) fail(path_, "must be a JSON object");
    for (const std::string& key : value_.getMemberNames()) {
      if (!known.count(key)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(path_ + "." + key, "unknown key (known keys: " + list + ")");
      }
    }
  }

  [[noreturn]] static void fail(const std::string& key, const std::string& problem) {
    throw ConfigError("configuration error: " + key + ": " + problem);
  }

  std::string key(const std::string& name) const { return path_ + "." + name; }
  bool has(const std::string& name) const { return value_.isMember(name); }
  const Json::Value& raw(const std::string& name) const { return value_[name]; }

  std::string string(const std::string& name, const std::string& fallback, bool required = false) const {
    if (!has(name)) {
      if (required) fail(key(name), "missing");
      return fallback;
    }
    const Json::Value& v = value_[name];
    if (!v.isString()) fail(key(name), "must be a string");
    if (required && v.asString().empty()) fail(key(name), "must not be empty");
    return v.asString();
  }

  int integer(const std::string& name, int fallback, int min, int max, bool required = false) const {
    if (!has(name)) {
      if (required) fail(key(name), "missing");
      return fallback;
    }
    const Json::Value& v = value_[name];
    if (!v.isInt()) fail(key(name), "must be an integer");
    int n = v.asInt();
    if (n < min || n > max) {
      fail(key(name), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return n;
  }

  double number(const std::string& name, double fallback, double min, double max) const {
    if (!has(name)) return fallback;
    const Json::Value& v = value_[name];
    if (!v.isNumeric()) fail(key(name), "must be a number");
    double d = v.asDouble();
    if (!(d >= min && d <= max)) {
      fail(key(name), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return d;
  }

  bool boolean(const std::string& name, bool fallback) const {
    if (!has(name)) return fallback;
    if (!value_[name].isBool()) fail(key(name), "must be true or false");
    return value_[name].asBool();
  }

 private:
  const Json::Value& value_;
  std::string path_;
};

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path[0] == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

RetryPolicy parseRetry(const Section& parent, const std::string& name, const RetryPolicy& base) {
  if (!parent.has(name)) return base;
  Section s(parent.raw(name), parent.key(name), {"InitialDelay", "Multiplier", "MaxDelay", "MaxAttempts"});
  RetryPolicy retry;
  retry.initialDelay = std::chrono::seconds(s.integer("InitialDelay", static_cast<int>(base.initialDelay.count()), 0, 86400));
  retry.multiplier = s.number("Multiplier", base.multiplier, 1.0, 100.0);
  retry.maxDelay = std::chrono::seconds(s.integer("MaxDelay", static_cast<int>(base.maxDelay.count()), 0, 7 * 86400));
  retry.maxAttempts = s.integer("MaxAttempts", base.maxAttempts, 1, 1000000);
  if (retry.maxDelay < retry.initialDelay) {
    Section::fail(s.key("MaxDelay"), "must not be smaller than InitialDelay");
  }
  return retry;
}

CircuitBreaker parseBreaker(const Section& parent, const CircuitBreaker& base) {
  if (!parent.has("CircuitBreaker")) return base;
  Section s(parent.raw("CircuitBreaker"), parent.key("CircuitBreaker"), {"Failures", "ProbeInterval"});
  CircuitBreaker breaker;
  breaker.failures = s.integer("Failures", base.failures, 1, 1000);
  breaker.probeInterval =
      std::chrono::seconds(s.integer("ProbeInterval", static_cast<int>(base.probeInterval.count()), 1, 3600));
  return breaker;
}

TranscodingConfig parseTranscoding(const Section& parent, const std::string& baseDir) {
  TranscodingConfig t;
  if (!parent.has("Transcoding")) return t;
  Section s(parent.raw("Transcoding"), parent.key("Transcoding"),
            {"WorkerExecutable", "Workers", "TimeLimit", "MemoryLimit"});
  if (s.has("WorkerExecutable")) {
    t.workerExecutable = resolvePath(s.string("WorkerExecutable", "", true), baseDir);
    if (access(t.workerExecutable.c_str(), X_OK) != 0)
      Section::fail(s.key("WorkerExecutable"), "\"" + t.workerExecutable + "\" is not an executable file");
  }
  t.workers = s.integer("Workers", 0, 0, 64);
  t.timeLimit = std::chrono::seconds(s.integer("TimeLimit", 120, 1, 86400));
  t.memoryLimitMb = s.integer("MemoryLimit", 4096, 64, 1 << 20);
  return t;
}

void checkName(const std::string& name, const std::string& key) {
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
            });
  if (!ok) Section::fail(key, "destination names use letters, digits, '_', '-' and '.' (at most 64)");
}

void checkAet(const std::string& aet, const std::string& key) {
  if (aet.empty() || aet.size() > 16) Section::fail(key, "an AE title has 1 to 16 characters");
}

DestinationConfig parseDestination(const std::string& name, const Json::Value& value,
                                   const std::string& path, const RetryPolicy& retry,
                                   const CircuitBreaker& breaker, const std::string& baseDir) {
  const std::set<std::string> common = {"Type", "Retry", "OnTranscodeFailure", "CircuitBreaker", "Failover",
                                        "FailoverAfter"};
  if (!value.isObject()) Section::fail(path, "must be a JSON object");
  if (!value.isMember("Type")) Section::fail(path + ".Type", "missing (dicom, dicomweb, orthanc or folder)");
  if (!value["Type"].isString()) Section::fail(path + ".Type", "must be a string");
  std::string type = value["Type"].asString();

  std::set<std::string> known = common;
  DestinationConfig d;
  d.name = name;
  if (type == "dicom") {
    d.type = DestinationType::Dicom;
    known.insert({"AET", "Host", "Port", "Associations", "TransferSyntaxes", "Timeout", "StorageCommitment",
                  "StorageCommitmentTimeout"});
  } else if (type == "dicomweb") {
    d.type = DestinationType::DicomWeb;
    known.insert({"Url", "Username", "Password", "Headers", "BatchSize", "Timeout"});
  } else if (type == "orthanc") {
    d.type = DestinationType::OrthancPeer;
    known.insert({"Url", "Username", "Password", "Headers", "Timeout"});
  } else if (type == "folder") {
    d.type = DestinationType::Folder;
    known.insert({"Path"});
  } else {
    Section::fail(path + ".Type", "unknown destination type \"" + type +
                                      "\" (use dicom, dicomweb, orthanc or folder)");
  }

  Section s(value, path, known);
  d.retry = parseRetry(s, "Retry", retry);
  d.circuitBreaker = parseBreaker(s, breaker);
  std::string policy = s.string("OnTranscodeFailure", "send-original");
  if (policy == "send-original") {
    d.onTranscodeFailure = TranscodeFailurePolicy::SendOriginal;
  } else if (policy == "fail") {
    d.onTranscodeFailure = TranscodeFailurePolicy::Fail;
  } else {
    Section::fail(s.key("OnTranscodeFailure"), "must be \"send-original\" or \"fail\"");
  }
  d.failover = s.string("Failover", "");
  if (d.failover == name) Section::fail(s.key("Failover"), "cannot name the destination itself");
  d.failoverAfter = std::chrono::seconds(s.integer("FailoverAfter", 300, 0, 7 * 24 * 3600));

  switch (d.type) {
    case DestinationType::Dicom: {
      d.aet = s.string("AET", "", true);
      checkAet(d.aet, s.key("AET"));
      d.host = s.string("Host", "", true);
      d.port = s.integer("Port", 0, 1, 65535, true);
      d.associations = s.integer("Associations", 1, 1, 32);
      d.timeout = std::chrono::seconds(s.integer("Timeout", 30, 1, 3600));
      d.storageCommitment = s.boolean("StorageCommitment", false);
      d.storageCommitmentTimeout = std::chrono::seconds(s.integer("StorageCommitmentTimeout", 120, 1, 24 * 3600));
      if (s.has("TransferSyntaxes")) {
        const Json::Value& list = s.raw("TransferSyntaxes");
        if (!list.isArray()) Section::fail(s.key("TransferSyntaxes"), "must be a list of keywords or UIDs");
        for (const auto& item : list) {
          std::optional<std::string> uid = item.isString() ? resolveTransferSyntax(item.asString()) : std::nullopt;
          if (!uid) {
            Section::fail(s.key("TransferSyntaxes"),
                          "unknown transfer syntax \"" + (item.isString() ? item.asString() : std::string("?")) + "\"" +
                              " (use a keyword such as JPEGLSLossless or a UID)");
          }
          d.transferSyntaxes.push_back(*uid);
        }
      }
      break;
    }
    case DestinationType::DicomWeb:
    case DestinationType::OrthancPeer:
      d.url = s.string("Url", "", true);
      if (d.url.rfind("http://", 0) != 0 && d.url.rfind("https://", 0) != 0) {
        Section::fail(s.key("Url"), "must start with http:// or https://");
      }
      while (!d.url.empty() && d.url.back() == '/') d.url.pop_back();
      d.username = s.string("Username", "");
      d.password = s.string("Password", "");
      d.timeout = std::chrono::seconds(s.integer("Timeout", 60, 1, 3600));
      if (s.has("Headers")) {
        const Json::Value& headers = s.raw("Headers");
        if (!headers.isObject()) Section::fail(s.key("Headers"), "must be a JSON object: header name -> value");
        for (const std::string& header : headers.getMemberNames()) {
          if (!headers[header].isString()) Section::fail(s.key("Headers") + "." + header, "must be a string");
          d.headers[header] = headers[header].asString();
        }
      }
      if (d.type == DestinationType::DicomWeb) d.batchSize = s.integer("BatchSize", 10, 1, 1000);
      break;
    case DestinationType::Folder:
      d.path = resolvePath(s.string("Path", "", true), baseDir);
      break;
  }
  return d;
}

// An Orthanc "DicomModalities" entry: ["AET", "host", port] or {"AET":..,"Host":..,"Port":..}.
DestinationConfig parseModality(const std::string& alias, const Json::Value& value,
                                const RetryPolicy& retry, const CircuitBreaker& breaker) {
  std::string path = "DicomModalities." + alias;
  DestinationConfig d;
  d.name = alias;
  d.type = DestinationType::Dicom;
  d.retry = retry;
  d.circuitBreaker = breaker;
  Json::Value aet, host, port;
  if (value.isArray() && value.size() >= 3) {
    aet = value[0];
    host = value[1];
    port = value[2];
  } else if (value.isObject()) {
    aet = value["AET"];
    host = value["Host"];
    port = value["Port"];
  } else {
    Section::fail(path, "must be [\"AET\", \"host\", port] or an object with AET, Host and Port");
  }
  if (!aet.isString()) Section::fail(path, "AET missing");
  if (!host.isString()) Section::fail(path, "Host missing");
  d.aet = aet.asString();
  checkAet(d.aet, path);
  d.host = host.asString();
  if (port.isString()) {
    try {
      d.port = std::stoi(port.asString());
    } catch (const std::exception&) {
      Section::fail(path, "Port must be a number");
    }
  } else if (port.isInt()) {
    d.port = port.asInt();
  } else {
    Section::fail(path, "Port missing");
  }
  if (d.port < 1 || d.port > 65535) Section::fail(path, "Port must be between 1 and 65535");
  return d;
}

// A failover names another destination, and following failovers never comes
// back to where it started (jobs would move in a circle while all are down).
void checkFailovers(const Config& config) {
  for (const auto& [name, destination] : config.destinations) {
    if (destination.failover.empty()) continue;
    std::string key = "Router.Destinations." + name + ".Failover";
    if (!config.destinations.count(destination.failover)) {
      Section::fail(key, "names \"" + destination.failover + "\", which is not a destination");
    }
    std::set<std::string> seen = {name};
    for (std::string next = destination.failover; !next.empty(); next = config.destinations.at(next).failover) {
      if (!seen.insert(next).second) Section::fail(key, "failovers form a circle through \"" + next + "\"");
    }
  }
}

}  // namespace

std::string toString(DestinationType type) {
  switch (type) {
    case DestinationType::Dicom: return "dicom";
    case DestinationType::DicomWeb: return "dicomweb";
    case DestinationType::OrthancPeer: return "orthanc";
    case DestinationType::Folder: return "folder";
  }
  return "unknown";
}

Config parseConfig(const Json::Value& orthanc, const std::string& baseDir) {
  if (!orthanc.isObject() || !orthanc.isMember("Router")) {
    Section::fail("Router", "section missing from Orthanc's configuration");
  }
  Section s(orthanc["Router"], "Router",
            {"Rules", "QueueDatabase", "Threads", "Destinations", "Retry", "CircuitBreaker",
             "DeleteAfterDelivery", "RouteResentInstances", "MetricsUser", "AuditLog", "Transcoding", "HistoryRetention"});
  Config config;
  config.rulesDir = resolvePath(s.string("Rules", "", true), baseDir);
  std::error_code ec;
  if (!std::filesystem::is_directory(config.rulesDir, ec)) {
    Section::fail("Router.Rules", "folder \"" + config.rulesDir + "\" does not exist or is not a folder");
  }
  std::string storage = orthanc.isMember("StorageDirectory") && orthanc["StorageDirectory"].isString()
                            ? orthanc["StorageDirectory"].asString()
                            : "OrthancStorage";
  config.queueDatabase = resolvePath(s.string("QueueDatabase", storage + "/router-queue.sqlite"), baseDir);
  config.threads = s.integer("Threads", 4, 1, 64);
  config.retry = parseRetry(s, "Retry", RetryPolicy{});
  config.circuitBreaker = parseBreaker(s, CircuitBreaker{});
  config.deleteAfterDelivery = s.boolean("DeleteAfterDelivery", false);
  config.routeResentInstances = s.boolean("RouteResentInstances", true);
  config.metricsUser = s.string("MetricsUser", "");
  if (s.has("AuditLog")) config.auditLog = resolvePath(s.string("AuditLog", "", true), baseDir);
  config.transcoding = parseTranscoding(s, baseDir);
  config.historyRetention = std::chrono::seconds(s.integer("HistoryRetention", 7 * 24 * 3600, 0, 3650 * 24 * 3600));
  if (orthanc.isMember("DicomAet") && orthanc["DicomAet"].isString()) {
    config.localAet = orthanc["DicomAet"].asString();
  }

  if (s.has("Destinations")) {
    const Json::Value& list = s.raw("Destinations");
    if (!list.isObject()) Section::fail("Router.Destinations", "must be a JSON object: name -> destination");
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
