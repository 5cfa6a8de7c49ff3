// The Transcoder the router uses inside Orthanc: every conversion runs in one
// of a pool of orthanc-router-transcoder processes (worker_main.cpp), never
// in Orthanc's own process. A worker that dies (any signal), runs past the
// time limit or over its memory limit fails only the conversion it was
// doing, with a TranscoderCrash that says what happened and what was asked;
// it is replaced at once and the other workers go on.
//
// Lifecycle (plugins/core/Lifecycle.h): the pool has no threads of its own;
// start() spawns the workers, stop() ends them and wakes every transcode()
// waiting for a free worker (it throws then). Start after stop works (new
// workers). A start() that throws (the executable cannot run) leaves the pool
// running without the workers that did not start: each transcode() tries to
// start its worker again and fails with the reason. Before the first start(),
// transcode() starts its worker itself.
//
// Thread safety: transcode() may be called from any number of threads; each
// call holds one worker for its duration and waits when all are busy.
// start(), stop() and state() from any thread, stop() after every caller of
// transcode() has finished (the Router stops delivery first).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/core/Lifecycle.h"
#include "transcoders/Transcoder.h"

namespace router {

struct WorkerPoolOptions {
  std::string executable;                // path of orthanc-router-transcoder
  int workers = 2;
  std::chrono::milliseconds timeLimit{std::chrono::seconds(120)};  // per conversion
  size_t memoryLimitMb = 4096;           // address space of one worker
  int nice = 0;                          // the workers' niceness (Limits::nice)
  // Told when a worker is started again after a failure, or cannot start.
  std::function<void(const std::string&)> warn;
};

class WorkerPool final : public Transcoder {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts every worker and waits until each has locked itself down. Throws
  // RouterError when the executable cannot run or refuses to lock down.
  void start();
  // Ends every worker (SIGKILL, then reaped). transcode() throws afterwards
  // until start() is called again.
  void stop();
  RunState state() const { return lifecycle_.state(); }

  std::string transcode(std::string_view part10, const std::string& targetTransferSyntaxUid,
                        const TranscodeOptions& options = {}) const override;

  // Process ids of the running workers (tests, status).
  std::vector<pid_t> pids() const;
  // What the workers' lockdown applies (from the first worker's answer).
  std::string lockdown() const;
  // Workers started again after one died, timed out or ran out of memory.
  uint64_t replacements() const;

 private:
  // A slot: busy is guarded by mutex_; pid and socket belong to the thread
  // that holds the slot busy (or to start/stop), pid is read by pids().
  struct Worker {
    std::atomic<pid_t> pid{0};
    int socket = -1;
    bool busy = false;
  };
  // Spawns w's process and waits for its Ready answer; throws RouterError.
  void spawn(Worker& w) const;
  // Kills (if needed) and reaps w's process; returns how it ended, e.g.
  // "crashed (SIGABRT)".
  std::string end(Worker& w) const;
  bool alive(const Worker& w) const;
  std::string exchange(Worker& w, std::string_view part10, const std::string& target,
                       const TranscodeOptions& options) const;

  const WorkerPoolOptions options_;
  mutable std::mutex mutex_;
  mutable std::condition_variable idle_;
  mutable std::vector<Worker> workers_;
  mutable std::mutex lockdownMutex_;
  mutable std::string lockdown_;
  mutable uint64_t replacements_ = 0;
  bool stopped_ = false;  // guarded by mutex_: transcode() refuses (the lifecycle's stop)
  Lifecycle lifecycle_;
};

}  // namespace router
