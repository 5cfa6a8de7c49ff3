// The delivery audit trail: one JSON line per delivery outcome (delivered,
// retry, dead letter, failed over) appended to Router.AuditLog, apart from
// Orthanc's log, for the people who must later answer "did this image reach
// the PACS, when, in which syntax". Identifiers only: no patient data.
//
// The file is opened in append mode and each line is written with a single
// write(), so lines never interleave; rotate it with logrotate's
// copytruncate (or move it away and the next line recreates it).
//
// Thread safety: record() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace router {

struct AuditEntry {
  std::string outcome;  // delivered, retry, dead, failed-over; batch-release/hold/resume/cancel (operators)
  int64_t job = 0;
  std::string destination;
  std::string sopInstanceUid;
  std::string instanceId;     // Orthanc's id
  std::string transferSyntax;  // keyword of what was sent (delivered)
  size_t bytes = 0;
  int64_t milliseconds = 0;
  int attempt = 0;
  std::string detail;  // why (retry, dead letter), or the warning of a delivery
};

class AuditLog {
 public:
  // Opens (creating) path for appending. Throws RouterError naming the path.
  explicit AuditLog(std::string path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // False when the line could not be written (disk full, ...): the caller
  // says so in Orthanc's log; delivery itself goes on.
  bool record(const AuditEntry& entry);
  const std::string& path() const { return path_; }

  // A job's lines (each attempt's outcome), oldest first: from the file
  // logrotate moved aside last (path.1), if any, then the file itself; at
  // most the newest `limit`. Reads the files whole: an operator's question,
  // not a hot path.
  std::vector<std::string> trailOf(int64_t job, size_t limit) const;

  // One line of JSON, ending in '\n' (also used by the tests).
  static std::string format(const AuditEntry& entry, std::chrono::system_clock::time_point when);

 private:
  void reopenIfMoved();  // under mutex_
  std::string path_;
  std::mutex mutex_;
  int fd_ = -1;
};

}  // namespace router
