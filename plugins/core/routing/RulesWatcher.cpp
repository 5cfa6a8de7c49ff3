#include "plugins/core/routing/RulesWatcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr int kTickMs = 200;      // how often stop() is noticed
constexpr int kQuietTicks = 3;    // reload after ~600 ms without events
}  // namespace

RulesWatcher::RulesWatcher(std::string dir, RuleBook& rules, Log& log)
    : dir_(std::move(dir)), rules_(rules), log_(log) {}

RulesWatcher::~RulesWatcher() { stop(); }

void RulesWatcher::start() {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    log_.warning("rules: cannot watch " + dir_ + " for changes (" + std::strerror(errno) +
                 "); reload by hand: " + log_.howTo(OperatorAction::ReloadRules));
    return;
  }
  if (inotify_add_watch(fd, dir_.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    log_.warning("rules: cannot watch " + dir_ + " for changes (" + std::strerror(errno) +
                 "); reload by hand: " + log_.howTo(OperatorAction::ReloadRules));
    ::close(fd);
    return;
  }
  thread_ = std::thread([this, fd] {
    nameThisThread("router-rules");
    run(fd);
  });
}

void RulesWatcher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void RulesWatcher::run(int fd) {
  int quiet = -1;  // ticks since the last event; -1 = nothing pending
  char buffer[4096];
  while (!stopping_) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, kTickMs);
    if (ready > 0) {
      bool relevant = false;
      ssize_t n;
      while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
        for (char* at = buffer; at < buffer + n;) {
          auto* event = reinterpret_cast<inotify_event*>(at);
          std::string name = event->len ? event->name : "";
          if (name.size() > 4 && name.compare(name.size() - 4, 4, ".lua") == 0) relevant = true;
          at += sizeof(inotify_event) + event->len;
        }
      }
      if (relevant) quiet = 0;
      continue;
    }
    if (quiet < 0) continue;
    if (++quiet < kQuietTicks) continue;
    quiet = -1;
    try {
      std::string version = rules_.reload();
      log_.warning("rules: files changed in " + dir_ + ", reloaded: version " + version);
    } catch (const std::exception& e) {
      log_.error(std::string("rules: files changed in ") + dir_ +
                 " but the new rules are refused, the previous rules stay in force: " + e.what());
    }
  }
  ::close(fd);
}

}  // namespace router
