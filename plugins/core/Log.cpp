#include "plugins/core/Log.h"

#include <cstdio>

namespace router {
namespace {
void writeLine(const char* level, const std::string& message) {
  std::string line = std::string("router: ") + level + ": " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}
}  // namespace

std::string Log::howTo(OperatorAction action, int64_t jobId) const {
  switch (action) {
    case OperatorAction::RetryJob: return "retry job " + std::to_string(jobId);
    case OperatorAction::ReloadRules: return "reload the rules";
    case OperatorAction::RerouteFailed: return "re-route the rule-failed instances";
  }
  return {};
}

void StderrLog::info(const std::string& message) {
  if (verbose_) writeLine("info", message);
}
void StderrLog::warning(const std::string& message) { writeLine("warning", message); }
void StderrLog::error(const std::string& message) { writeLine("error", message); }

}  // namespace router
