// Shared by the rule_*_test.cpp files: rule sets written inline, a log that
// remembers its lines, and instances made by the test-data generator and read
// back through the same TagReader the router uses.
#pragma once

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lua/RuleEngine.h"
#include "plugins/core/dicom/TagReader.h"
#include "tests/generator/TestData.h"

namespace router::ruletest {

class CapturingLog : public Log {
 public:
  void info(const std::string& message) override { add("info", message); }
  void warning(const std::string& message) override { add("warning", message); }
  void error(const std::string& message) override { add("error", message); }

  std::vector<std::pair<std::string, std::string>> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  void add(const char* level, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.emplace_back(level, message);
  }
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> lines_;
};

// Files in the given order (the caller names them in name order).
inline RuleSource sourceOf(std::vector<std::pair<std::string, std::string>> files) {
  RuleSource source;
  source.directory = "(test)";
  source.version = "test";
  for (auto& [name, code] : files) source.files.push_back({name, code});
  return source;
}

inline RuleSource sourceOf(const std::string& code) { return sourceOf({{"10-rules.lua", code}}); }

inline const std::set<std::string>& testDestinations() {
  static const std::set<std::string> names = {"pacs", "cloud", "export", "ai", "out"};
  return names;
}

// A generated instance as the router's rules would see it.
inline InstanceView viewOf(const testdata::ImageSpec& spec, const std::string& callingAet = "",
                           const std::string& protocol = "DicomProtocol") {
  InstanceView view = readInstanceView(testdata::makeInstance(spec));
  view.id = "orthanc-id-" + spec.name;
  view.origin.callingAet = callingAet;
  view.origin.calledAet = "ROUTER";
  view.origin.remoteIp = "10.0.0.7";
  view.origin.protocol = protocol;
  return view;
}

inline testdata::ImageSpec spec(const std::string& name, const std::string& modality) {
  testdata::ImageSpec s;
  s.name = name;
  s.modality = modality;
  s.rows = 8;
  s.columns = 8;
  return s;
}

// Sanitizer builds (./appliance test --sanitize / --tsan) run the rules
// several times slower: bounds on how long something may take stretch by this.
#if defined(__SANITIZE_THREAD__)
inline constexpr double kTimeSlack = 10.0;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr double kTimeSlack = 5.0;
#else
inline constexpr double kTimeSlack = 1.0;
#endif

inline double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace router::ruletest
