#include "plugins/core/routing/RulesWatcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plugins/core/ThreadName.h"

namespace router {
namespace {
constexpr auto kTick = std::chrono::milliseconds(200);  // how often events are read
constexpr int kQuietTicks = 3;                           // reload after ~600 ms without events
}  // namespace

RulesWatcher::RulesWatcher(std::string dir, RuleBook& rules, Log& log)
    : dir_(std::move(dir)), rules_(rules), log_(log), lifecycle_([this] {
        if (thread_.joinable()) thread_.join();
      }) {
  lifecycle_.interrupts(wakeup_);
}

RulesWatcher::~RulesWatcher() { stop(); }

void RulesWatcher::start() {
  lifecycle_.start([this] {
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
    try {
      thread_ = std::thread([this, fd] {
        nameThisThread("router-rules");
        run(fd);
      });
    } catch (...) {
      ::close(fd);
      throw;
    }
  });
}

void RulesWatcher::stop() { lifecycle_.stop(); }

void RulesWatcher::run(int fd) {
  int quiet = -1;  // ticks since the last event; -1 = nothing pending
  char buffer[4096];
  while (!wakeup_.stopped()) {
    const uint64_t seen = wakeup_.generation();
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
    if (relevant) {
      quiet = 0;
    } else if (quiet >= 0 && ++quiet >= kQuietTicks) {
      quiet = -1;
      reload();
    }
    wakeup_.waitFor(seen, kTick);
  }
  ::close(fd);
}

void RulesWatcher::reload() {
  try {
    std::string version = rules_.reload();
    log_.warning("rules: files changed in " + dir_ + ", reloaded: version " + version);
  } catch (const std::exception& e) {
    log_.error(std::string("rules: files changed in ") + dir_ +
               " but the new rules are refused, the previous rules stay in force: " + e.what());
  }
}

}  // namespace router
