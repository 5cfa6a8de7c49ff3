// Logging seam of the core. The plugin logs to Orthanc's log; the CLI and the
// unit tests log to stderr. Implementations must be callable from any thread.
#pragma once

#include <string>

namespace router {

class Log {
 public:
  virtual ~Log() = default;
  virtual void info(const std::string& message) = 0;
  virtual void warning(const std::string& message) = 0;
  virtual void error(const std::string& message) = 0;
};

// Writes "router: <level>: <message>" lines to stderr. Thread-safe (one
// fwrite per line).
class StderrLog : public Log {
 public:
  explicit StderrLog(bool verbose = false) : verbose_(verbose) {}
  void info(const std::string& message) override;
  void warning(const std::string& message) override;
  void error(const std::string& message) override;

 private:
  bool verbose_;
};

}  // namespace router
