// What a transcoder worker gives up before it reads its first image, so that
// a codec exploited by a hostile file can do nothing but compute and answer
// on its socket:
//   - resource limits: address space (the memory limit), no core dumps, a
//     handful of descriptors, no new processes;
//   - no new privileges, not dumpable (nobody may ptrace it);
//   - a seccomp filter (libseccomp) that allows only the system calls a
//     codec and the socket protocol need. exec, fork/clone, sockets and
//     ptrace kill the process (SIGSYS, reported as a crash); every other call
//     outside the list, opening files included, fails with EPERM. mmap and
//     mprotect may not make memory executable.
#pragma once

#include <cstddef>
#include <string>

namespace router::worker {

struct Limits {
  size_t memoryBytes = 0;  // 0 = no address-space limit
  // Scheduling niceness the worker runs at (never below the one it was
  // started with): conversions take the CPU Orthanc's own threads leave.
  int nice = 0;
};

// Applies the limits and installs the filter; limits.nice becomes the
// niceness in force. Throws std::runtime_error naming what could not be
// applied; the worker then refuses to start.
void lockDown(Limits& limits);

// One line for logs and README: what lockDown() applies.
std::string describeLockdown(const Limits& limits);

}  // namespace router::worker
