// FolderDestination: atomic Part-10 file writes into a folder (see header).
#include "plugins/core/destinations/folder/FolderDestination.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"

#include <dcmtk/dcmdata/dcdeftag.h>

namespace router {
namespace {

// Closes a file descriptor on scope exit unless released.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error (close can report a deferred write error).
  int closeNow() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Removes the temporary file on scope exit unless the rename happened.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

std::string errnoText(int error) { return std::generic_category().message(error); }

// Details leave out the destination's name: the delivery code that logs them
// adds it, for every destination type alike.
SendResult retry(const std::string& what, const std::string& path, int error) {
  SendResult result;
  result.outcome = SendOutcome::Retry;
  result.detail = "cannot " + what + " " + path + ": " + errnoText(error);
  return result;
}

SendResult permanent(const std::string& what) {
  SendResult result;
  result.outcome = SendOutcome::Permanent;
  result.detail = what;
  return result;
}

std::string uniqueSuffix() {
  static std::atomic<unsigned long> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(counter++) + "." +
         std::to_string(random() % 1000000007ULL);
}

std::string uidFromFile(const std::string& part10) {
  try {
    auto file = parseDicomHeader(part10);
    return readUid(*file->getDataset(), DCM_SOPInstanceUID);
  } catch (const RouterError&) {
  }
  return {};
}

}  // namespace

bool isSafeUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  bool previousWasDot = true;  // a leading dot is an empty component
  for (char c : uid) {
    if (c == '.') {
      if (previousWasDot) return false;
      previousWasDot = true;
    } else if (c >= '0' && c <= '9') {
      previousWasDot = false;
    } else {
      return false;
    }
  }
  return !previousWasDot;
}

FolderDestination::FolderDestination(const DestinationConfig& config)
    : name_(config.name), path_(config.settingsAs<FolderSettings>().path) {
  if (path_.empty()) throw ConfigError("destination " + name_ + ": \"Path\" is missing");
  removeStaleTemporaries();
}

// A write cut short by kill -9 or a power loss leaves its hidden temporary
// file (".<uid>.dcm.<pid>.<n>.<r>.tmp"); the job itself is sent again. Files
// of processes that no longer exist are removed.
void FolderDestination::removeStaleTemporaries() {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() < 8 || name[0] != '.' || name.compare(name.size() - 4, 4, ".tmp") != 0) continue;
    size_t marker = name.find(".dcm.");
    if (marker == std::string::npos) continue;
    long pid = std::strtol(name.c_str() + marker + 5, nullptr, 10);
    if (pid <= 0 || (pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
      std::error_code ignored;
      std::filesystem::remove(it->path(), ignored);
    }
  }
}

SendResult FolderDestination::send(const Outgoing& instance) {
  // The file name is the UID without its NUL or space padding.
  std::string uid = trimUid(instance.sopInstanceUid);
  if (uid.empty()) uid = uidFromFile(instance.part10);
  if (!isSafeUid(uid)) {
    return permanent("refused: SOP Instance UID '" + printableUid(uid).substr(0, 80) +
                                "' is not a valid UID (digits and dots only), cannot use it as a file name");
  }

  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec) return retry("create folder", path_, ec.value());

  const std::string finalPath = path_ + "/" + uid + ".dcm";
  // Hidden name: folder watchers that skip dot-files never pick it up.
  const std::string tempPath = path_ + "/." + uid + ".dcm." + uniqueSuffix() + ".tmp";

  Fd fd(::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (fd.get() < 0) return retry("create", tempPath, errno);
  TempFileGuard guard(tempPath);

  const char* data = instance.part10.data();
  size_t left = instance.part10.size();
  while (left > 0) {
    ssize_t written = ::write(fd.get(), data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return retry("write", tempPath, errno);
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
  if (::fsync(fd.get()) != 0) return retry("flush", tempPath, errno);
  if (fd.closeNow() != 0) return retry("close", tempPath, errno);

  if (::rename(tempPath.c_str(), finalPath.c_str()) != 0) return retry("rename to", finalPath, errno);
  guard.release();

  // The rename is durable only once the folder itself is on disk.
  Fd dir(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return retry("open folder", path_, errno);
  if (::fsync(dir.get()) != 0) return retry("flush folder", path_, errno);
  return {};
}

bool FolderDestination::probe() {
  std::filesystem::path folder(path_);
  std::error_code ec;
  // A missing folder is fine if send() could create it: check the nearest
  // existing ancestor instead.
  while (!std::filesystem::exists(folder, ec)) {
    if (ec) return false;
    std::filesystem::path parent = folder.parent_path();
    if (parent == folder) return false;
    folder = parent.empty() ? std::filesystem::path(".") : parent;
  }
  if (!std::filesystem::is_directory(folder, ec)) return false;
  return ::access(folder.c_str(), W_OK | X_OK) == 0;
}

}  // namespace router
