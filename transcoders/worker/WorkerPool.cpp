#include "transcoders/worker/WorkerPool.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <system_error>

#include "transcoders/TransferSyntax.h"
#include "transcoders/worker/WorkerProtocol.h"

extern char** environ;

namespace router {

const char* toString(TranscoderCrash::Kind kind) {
  switch (kind) {
    case TranscoderCrash::Kind::Crash: return "crash";
    case TranscoderCrash::Kind::Timeout: return "timeout";
    case TranscoderCrash::Kind::Memory: return "memory";
  }
  return "crash";
}

namespace {

using SteadyClock = std::chrono::steady_clock;
using worker::Reply;
using worker::ReplyKind;

std::string errorText(int error) { return std::generic_category().message(error); }

// The worker's environment: nothing of Orthanc's (it may hold secrets), only
// what the sanitizers and the test hooks read.
std::vector<std::string> workerEnvironment() {
  std::vector<std::string> env{"PATH=/usr/bin:/bin", "MALLOC_ARENA_MAX=1"};
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    if (entry.rfind("ASAN_OPTIONS=", 0) == 0 || entry.rfind("UBSAN_OPTIONS=", 0) == 0 ||
        entry.rfind("TSAN_OPTIONS=", 0) == 0 || entry.rfind("ROUTER_TEST_", 0) == 0) {
      env.push_back(entry);
    }
  }
  return env;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Waits for one reply until deadline. False on end-of-file (the worker died)
// or when the deadline passed (timedOut set).
bool awaitReply(int socket, SteadyClock::time_point deadline, Reply& reply, int& fd, bool& timedOut) {
  timedOut = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      timedOut = true;
      return false;
    }
    pollfd p{socket, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    return worker::receiveMessage(socket, &reply, sizeof reply, &fd);
  }
}

}  // namespace

WorkerPool::WorkerPool(WorkerPoolOptions options)
    : options_(std::move(options)), workers_(static_cast<size_t>(std::max(1, options_.workers))), lifecycle_([this] {
        std::unique_lock<std::mutex> lock(mutex_);
        stopped_ = true;
        for (Worker& w : workers_) {
          if (w.pid != 0) end(w);
        }
        idle_.notify_all();
      }) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  std::exception_ptr failed;
  lifecycle_.start([&] {
    std::unique_lock<std::mutex> lock(mutex_);
    stopped_ = false;
    try {
      for (Worker& w : workers_) {
        if (w.pid == 0) spawn(w);
      }
    } catch (...) {
      failed = std::current_exception();  // running all the same (see the header)
    }
  });
  if (failed) std::rethrow_exception(failed);
}

void WorkerPool::stop() { lifecycle_.stop(); }

std::vector<pid_t> WorkerPool::pids() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<pid_t> out;
  for (const Worker& w : workers_)
    if (w.pid != 0) out.push_back(w.pid);
  return out;
}

std::string WorkerPool::lockdown() const {
  std::lock_guard<std::mutex> lock(lockdownMutex_);
  return lockdown_;
}

uint64_t WorkerPool::replacements() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return replacements_;
}

void WorkerPool::spawn(Worker& w) const {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    throw RouterError("cannot create a socket for a transcoder worker: " + errorText(errno));
  Fd mine(pair[0]), theirs(pair[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), worker::kSocketFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, worker::kSocketFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Default signal handling and an empty mask, whatever Orthanc's threads set.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string memory = std::to_string(options_.memoryLimitMb);
  std::string nice = std::to_string(options_.nice);
  std::vector<char*> argv{const_cast<char*>(options_.executable.c_str()), const_cast<char*>("--memory-mb"),
                          memory.data(), const_cast<char*>("--nice"), nice.data(), nullptr};
  std::vector<std::string> env = workerEnvironment();
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, options_.executable.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0)
    throw RouterError("cannot start the transcoder worker " + options_.executable + ": " + errorText(rc) +
                      " (Router.Transcoding.WorkerExecutable)");
  w.pid = pid;
  w.socket = mine.release();

  Reply ready;
  int fd = -1;
  bool timedOut = false;
  bool ok = awaitReply(w.socket, SteadyClock::now() + std::chrono::seconds(30), ready, fd, timedOut);
  if (fd >= 0) close(fd);
  if (!ok || ready.kind != ReplyKind::Ready) {
    std::string why = ok ? std::string(ready.text) : timedOut ? "no answer within 30 s" : end(w);
    if (w.pid != 0) end(w);
    throw RouterError("the transcoder worker " + options_.executable + " did not start: " + why);
  }
  std::lock_guard<std::mutex> lock(lockdownMutex_);
  if (lockdown_.empty()) lockdown_ = ready.text;
}

std::string WorkerPool::end(Worker& w) const {
  if (w.socket >= 0) close(w.socket);
  w.socket = -1;
  if (w.pid == 0) return "not running";
  kill(w.pid, SIGKILL);  // a no-op on a process that already ended
  int status = 0;
  pid_t got;
  do {
    got = waitpid(w.pid, &status, 0);
  } while (got < 0 && errno == EINTR);
  w.pid = 0;
  if (got < 0) return "ended (" + errorText(errno) + ")";  // errno of waitpid
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    std::string name = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
    if (sig == SIGSYS) return "was stopped by its sandbox (SIGSYS: a forbidden system call)";
    return "crashed (" + name + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended";
}

bool WorkerPool::alive(const Worker& w) const {
  if (w.pid == 0 || w.socket < 0) return false;
  // An idle worker sends nothing: anything readable is its end-of-file.
  pollfd p{w.socket, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

std::string WorkerPool::transcode(std::string_view part10, const std::string& targetTransferSyntaxUid,
                                  const TranscodeOptions& options) const {
  Worker* w = nullptr;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (stopped_) throw TranscodeError("the transcoder workers are stopped (the router is stopping)");
      for (Worker& candidate : workers_) {
        if (!candidate.busy) {
          w = &candidate;
          break;
        }
      }
      if (w != nullptr) break;
      idle_.wait(lock);
    }
    w->busy = true;
  }
  struct Release {
    const WorkerPool& pool;
    Worker& w;
    ~Release() {
      std::lock_guard<std::mutex> lock(pool.mutex_);
      w.busy = false;
      pool.idle_.notify_one();
    }
  } release{*this, *w};

  if (!alive(*w)) {
    if (w->pid != 0) {
      std::string how = end(*w);
      if (options_.warn) options_.warn("transcoder worker " + how + " while idle; starting another");
    }
    spawn(*w);
  }
  return exchange(*w, part10, targetTransferSyntaxUid, options);
}

std::string WorkerPool::exchange(Worker& w, std::string_view part10, const std::string& target,
                                 const TranscodeOptions& options) const {
  const std::string targetUid = resolveTransferSyntax(target).value_or(target);
  std::string what = "a " + std::to_string(part10.size()) + "-byte file";
  auto fail = [&](TranscoderCrash::Kind kind, const std::string& how) -> TranscoderCrash {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++replacements_;
    }
    std::string message = "transcoder " + how + " converting " + what + " -> " + transferSyntaxName(targetUid);
    try {
      spawn(w);
    } catch (const std::exception& e) {
      if (options_.warn) options_.warn(std::string("cannot replace a transcoder worker: ") + e.what());
    }
    return TranscoderCrash(kind, message);
  };

  worker::Request request;
  request.quality = options.quality;
  request.newUidWhenLossy = options.newUidWhenLossy ? 1 : 0;
  request.inputSize = part10.size();
  if (targetUid.size() >= sizeof request.target) throw TranscodeError("unknown transfer syntax " + target);
  worker::setText(request.target, targetUid);
  Fd input(worker::makeSealedMemfd("router-input", part10.data(), part10.size()));
  if (input.get() < 0) throw TranscodeError("cannot pass the file to a transcoder worker: " + errorText(errno));
  if (!worker::sendMessage(w.socket, &request, sizeof request, input.get()))
    throw fail(TranscoderCrash::Kind::Crash, end(w) + " before it took the image");
  close(input.release());  // the worker holds its own copy of the descriptor now

  const auto deadline = SteadyClock::now() + options_.timeLimit;
  for (;;) {
    Reply reply;
    int fd = -1;
    bool timedOut = false;
    if (!awaitReply(w.socket, deadline, reply, fd, timedOut)) {
      if (timedOut) {
        end(w);
        auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.timeLimit).count();
        throw fail(TranscoderCrash::Kind::Timeout, "ran past its time limit of " + std::to_string(seconds) +
                                                       " s (Router.Transcoding.TimeLimit)");
      }
      throw fail(TranscoderCrash::Kind::Crash, end(w));
    }
    Fd passed(fd);
    switch (reply.kind) {
      case ReplyKind::Parsed:
        what = reply.text;
        if (options.onParsed) options.onParsed(what);
        break;
      case ReplyKind::Done:
        if (passed.get() < 0) throw fail(TranscoderCrash::Kind::Crash, "answered without its output (" + end(w) + ")");
        try {
          return worker::readMemfd(passed.get(), reply.size);
        } catch (const std::exception& e) {
          throw TranscodeError(std::string("cannot read the transcoder's output: ") + e.what());
        }
      case ReplyKind::Failed:
        throw TranscodeError(reply.text);
      case ReplyKind::OutOfMemory:
        end(w);
        throw fail(TranscoderCrash::Kind::Memory,
                   "went over its memory limit of " + std::to_string(options_.memoryLimitMb) +
                       " MiB (Router.Transcoding.MemoryLimit)");
      default:
        throw fail(TranscoderCrash::Kind::Crash, "answered nonsense (" + end(w) + ")");
    }
  }
}

}  // namespace router
