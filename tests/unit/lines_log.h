// A Log that keeps its lines ("info: ...", "warning: ...", "error: ...") for
// tests to count. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "plugins/core/Log.h"

namespace router {

class LinesLog : public Log {
 public:
  void info(const std::string& m) override { add("info: " + m); }
  void warning(const std::string& m) override { add("warning: " + m); }
  void error(const std::string& m) override { add("error: " + m); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  // Lines that contain `part`.
  int count(const std::string& part) {
    int n = 0;
    for (const std::string& line : lines()) n += line.find(part) != std::string::npos;
    return n;
  }

 private:
  void add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(line);
  }
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace router
