// Logging seam of the core. The plugin logs to Orthanc's log; the CLI and the
// unit tests log to stderr. Implementations must be callable from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace router {

// What a log message may advise the operator to do once the cause is fixed.
enum class OperatorAction { RetryJob, ReloadRules, RerouteFailed };

class Log {
 public:
  virtual ~Log() = default;
  virtual void info(const std::string& message) = 0;
  virtual void warning(const std::string& message) = 0;
  virtual void error(const std::string& message) = 0;
  // How the operator does it where these messages are read. The core names
  // the action and never a REST path; the plugin's log answers with its REST
  // call. This default says it in words.
  virtual std::string howTo(OperatorAction action, int64_t jobId = 0) const;
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
