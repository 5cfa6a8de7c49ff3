#include "plugins/core/delivery/AuditLog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <sstream>

#include <json/json.h>

#include "plugins/core/Error.h"

namespace router {
namespace {

int openForAppend(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) throw RouterError("audit log " + path + ": cannot open for appending: " + std::strerror(errno));
  return fd;
}

}  // namespace

AuditLog::AuditLog(std::string path) : path_(std::move(path)), fd_(openForAppend(path_)) {}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

std::string AuditLog::format(const AuditEntry& entry, std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char time[40];
  size_t n = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(time + n, sizeof time - n, ".%03dZ", static_cast<int>(ms % 1000));

  Json::Value line(Json::objectValue);
  line["time"] = time;
  line["outcome"] = entry.outcome;
  line["job"] = static_cast<Json::Int64>(entry.job);
  line["destination"] = entry.destination;
  line["sop_instance_uid"] = entry.sopInstanceUid;
  line["instance"] = entry.instanceId;
  if (!entry.transferSyntax.empty()) line["transfer_syntax"] = entry.transferSyntax;
  if (entry.bytes != 0) line["bytes"] = static_cast<Json::UInt64>(entry.bytes);
  if (entry.outcome == "delivered") line["ms"] = static_cast<Json::Int64>(entry.milliseconds);
  line["attempt"] = entry.attempt;
  if (!entry.detail.empty()) line["detail"] = entry.detail;
  Json::StreamWriterBuilder writer;
  writer["indentation"] = "";
  return Json::writeString(writer, line) + "\n";
}

std::vector<std::string> AuditLog::trailOf(int64_t job, size_t limit) const {
  const std::string key = "\"job\":" + std::to_string(job);
  std::deque<std::string> lines;
  for (const std::string& file : {path_ + ".1", path_}) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      // Cheap test first; then the line's own "job", not text inside a detail.
      const size_t at = line.find(key);
      if (at == std::string::npos || (line[at + key.size()] != ',' && line[at + key.size()] != '}')) continue;
      Json::Value value;
      Json::CharReaderBuilder builder;
      std::string errors;
      std::istringstream text(line);
      if (!Json::parseFromStream(builder, text, &value, &errors) || !value.isObject() ||
          !value["job"].isIntegral() || value["job"].asInt64() != job) {
        continue;
      }
      lines.push_back(std::move(line));
      if (lines.size() > limit) lines.pop_front();
    }
  }
  return {lines.begin(), lines.end()};
}

void AuditLog::reopenIfMoved() {
  struct stat onDisk {}, open {};
  if (::stat(path_.c_str(), &onDisk) == 0 && ::fstat(fd_, &open) == 0 && onDisk.st_ino == open.st_ino &&
      onDisk.st_dev == open.st_dev) {
    return;
  }
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;  // keep writing to the old file rather than lose the line
  ::close(fd_);
  fd_ = fd;
}

bool AuditLog::record(const AuditEntry& entry) {
  std::string line = format(entry, std::chrono::system_clock::now());
  std::lock_guard<std::mutex> lock(mutex_);
  reopenIfMoved();
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t written = ::write(fd_, data, left);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    left -= static_cast<size_t>(written);
  }
  return true;
}

}  // namespace router
