#include "transcoders/worker/Lockdown.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace router::worker {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerShadow = true;  // reserves terabytes of address space
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerShadow = true;
#else
constexpr bool kSanitizerShadow = false;
#endif
#else
constexpr bool kSanitizerShadow = false;
#endif

void limit(int resource, rlim_t value, const char* name) {
  rlimit r{value, value};
  if (setrlimit(resource, &r) != 0)
    throw std::runtime_error(std::string("cannot set ") + name + ": " + std::strerror(errno));
}

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("seccomp: ") + what + ": " + std::strerror(-rc));
}

// What glibc, libstdc++, GDCM, OpenJPEG, libjpeg, CharLS and the socket
// protocol call while converting an image.
constexpr int kAllowed[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(readv), SCMP_SYS(writev),
    SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl),
    SCMP_SYS(ftruncate), SCMP_SYS(memfd_create), SCMP_SYS(recvmsg), SCMP_SYS(sendmsg),
    SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(alarm),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrusage), SCMP_SYS(prlimit64),
    SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
};

// Tried only by code that has been taken over: the process dies at once.
constexpr int kFatal[] = {
    SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(clone), SCMP_SYS(clone3),
    SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
    SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(sendto), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev), SCMP_SYS(kill), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(mount),
    SCMP_SYS(chroot), SCMP_SYS(pivot_root), SCMP_SYS(bpf), SCMP_SYS(io_uring_setup), SCMP_SYS(userfaultfd),
};

void installFilter() {
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) throw std::runtime_error("seccomp: cannot create a filter");
  for (int call : kAllowed) check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, call, 0), "allow");
  for (int call : kFatal) check(seccomp_rule_add(ctx.get(), SCMP_ACT_KILL_PROCESS, call, 0), "deny");
  // Memory may be mapped and protected, never made executable.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
        "mmap");
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
        "mprotect");
  // abort() and raise() signal the calling thread of this process only.
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                         SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid()))),
        "tgkill");
  // UBSan's type checks probe memory through a pipe: allowed in sanitizer
  // builds only (the test builds of ./appliance test --sanitize / --tsan).
  if (kSanitizerShadow) check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(pipe2), 0), "pipe2");
  check(seccomp_load(ctx.get()), "load");
}

}  // namespace

void lockDown(Limits& limits) {
  errno = 0;
  const int started = getpriority(PRIO_PROCESS, 0);
  if (errno != 0) throw std::runtime_error(std::string("cannot read the niceness: ") + std::strerror(errno));
  if (limits.nice > started && setpriority(PRIO_PROCESS, 0, limits.nice) != 0)
    throw std::runtime_error(std::string("cannot set the niceness: ") + std::strerror(errno));
  limits.nice = std::max(limits.nice, started);
  if (limits.memoryBytes > 0 && !kSanitizerShadow) limit(RLIMIT_AS, limits.memoryBytes, "the memory limit");
  // No RLIMIT_FSIZE: it applies to memfd files too, and the output is one.
  // Files cannot be opened at all (seccomp), so none can be written.
  limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
  limit(RLIMIT_NOFILE, 16, "RLIMIT_NOFILE");
  limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw std::runtime_error("cannot set no_new_privs");
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  installFilter();
}

std::string describeLockdown(const Limits& limits) {
  std::string memory = limits.memoryBytes == 0 || kSanitizerShadow
                           ? std::string("no address-space limit")
                           : "address space " + std::to_string(limits.memoryBytes >> 20) + " MiB";
  return memory + ", nice " + std::to_string(limits.nice) + ", no files opened (so none written), no core dumps, 16 descriptors, no new processes, no_new_privs, "
                  "seccomp allow-list (files, network, exec, fork, ptrace denied; no executable memory)";
}

}  // namespace router::worker
