// router-faulty-transcoder: the transcoder worker with faults on demand, for
// the tests of what the router does when a codec crashes, hangs or runs out
// of memory (a fake of the one thing real codecs cannot do on demand). It
// runs the real worker (runWorker, lockdown included); an input carrying one
// of these markers (e.g. in StudyDescription) then fails, after parsing:
//   ROUTER-TEST-ABORT  abort() (SIGABRT), like a GDCM assertion
//   ROUTER-TEST-SEGV   a write through a null pointer (SIGSEGV)
//   ROUTER-TEST-HANG   never returns (the time limit must end it)
//   ROUTER-TEST-OOM    allocates until the memory limit stops it
//   ROUTER-TEST-SLOW   sleeps 3 s first (time to kill -9 the worker)
//   ROUTER-TEST-EXEC   tries to run /bin/true (the sandbox must stop it)
//   ROUTER-TEST-NET    tries to open a socket (the sandbox must stop it)
//   ROUTER-TEST-WRITE  tries to create $ROUTER_TEST_PROBE_FILE (or
//                      /tmp/router-sandbox-probe); aborts if that worked,
//                      converts normally if the sandbox refused
// Test-only: never installed or packaged.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "transcoders/worker/WorkerMain.h"

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer's SEGV handler cannot report inside the sandbox (its
// pthread_getattr_np is refused) and ends the worker with SIGILL instead:
// the deliberate SEGV must end it as SIGSEGV, as in the other builds.
extern "C" const char* __tsan_default_options() { return "handle_segv=0"; }
#endif

#if defined(__SANITIZE_ADDRESS__)
// The same under AddressSanitizer: its SEGV report would end the worker
// with an exit code rather than SIGSEGV.
extern "C" const char* __asan_default_options() { return "handle_segv=0"; }
#endif

namespace {

bool has(std::string_view input, const char* marker) { return input.find(marker) != std::string_view::npos; }

// The null write is the fault: UBSan (--sanitize builds) must not stop it first.
__attribute__((no_sanitize("undefined"))) void fault(std::string_view input) {
  if (has(input, "ROUTER-TEST-ABORT")) std::abort();
  if (has(input, "ROUTER-TEST-SEGV")) {
    volatile int* nowhere = nullptr;
    *nowhere = 1;
  }
  if (has(input, "ROUTER-TEST-HANG")) {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (has(input, "ROUTER-TEST-OOM")) {
    for (;;) {
      char* block = new char[64u << 20];
      std::memset(block, 1, 64u << 20);
    }
  }
  if (has(input, "ROUTER-TEST-SLOW")) std::this_thread::sleep_for(std::chrono::seconds(3));
  if (has(input, "ROUTER-TEST-NET")) socket(AF_INET, SOCK_STREAM, 0);
  if (has(input, "ROUTER-TEST-WRITE")) {
    const char* path = std::getenv("ROUTER_TEST_PROBE_FILE");
    if (FILE* f = std::fopen(path ? path : "/tmp/router-sandbox-probe", "w")) {
      std::fclose(f);
      std::abort();
    }
  }
  if (has(input, "ROUTER-TEST-EXEC")) {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execv("/bin/true", argv);
  }
}

}  // namespace

int main(int argc, char** argv) { return router::worker::runWorker(argc, argv, fault); }
