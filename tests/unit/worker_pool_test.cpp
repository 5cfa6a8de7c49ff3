// The worker pool with the real worker processes: conversions give the same
// bytes as in this process; a worker that crashes, hangs, runs out of memory
// or breaks out of its sandbox fails only its own conversion, with the
// reason, and is replaced; the other workers go on. Faults come from
// router-faulty-transcoder, the real worker plus faults on demand.
#include "transcoders/worker/WorkerPool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/generator/TestData.h"
#include "transcoders/TransferSyntax.h"
#include "transcoders/worker/WorkerProtocol.h"

namespace router {
namespace {

const std::string kWorker = ROUTER_BINARY_DIR "/plugins/orthanc/orthanc-router-transcoder";
const std::string kFaulty = ROUTER_BINARY_DIR "/tests/generator/router-faulty-transcoder";

WorkerPoolOptions options(const std::string& exe, int workers = 2) {
  WorkerPoolOptions o;
  o.executable = exe;
  o.workers = workers;
  o.timeLimit = std::chrono::seconds(5);
  o.memoryLimitMb = 1024;
  return o;
}

std::string image(const std::string& marker = "", uint32_t seed = 1) {
  testdata::ImageSpec spec;
  spec.name = "pool";
  spec.rows = 64;
  spec.columns = 48;
  spec.seed = seed;
  spec.studyDescription = marker;
  return testdata::makeInstance(spec);
}

// What a fault marker does to one conversion of the faulty worker.
TranscoderCrash crashOf(WorkerPool& pool, const std::string& marker) {
  try {
    pool.transcode(image(marker), ts::kJPEG2000Lossless);
  } catch (const TranscoderCrash& crash) {
    return crash;
  }
  ADD_FAILURE() << marker << " did not fail the conversion";
  return TranscoderCrash(TranscoderCrash::Kind::Crash, "");
}

// A worker's output file is mapped in Orthanc's process only when sealed:
// one that could shrink while it is read would raise SIGBUS there.
TEST(WorkerProtocol, OnlyASealedFileIsMapped) {
  const std::string bytes(4096, 'x');
  const int sealed = worker::makeSealedMemfd("test", bytes.data(), bytes.size());
  ASSERT_GE(sealed, 0);
  EXPECT_EQ(worker::readMemfd(sealed, bytes.size()), bytes);
  ::close(sealed);

  const int open = ::memfd_create("test-unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(open, 0);
  ASSERT_EQ(::write(open, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  try {
    worker::readMemfd(open, bytes.size());
    ADD_FAILURE() << "an unsealed file was mapped";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "the shared file is not sealed against shrinking and writing");
  }
  ::close(open);
}

TEST(WorkerPool, ConvertsExactlyAsInProcess) {
  WorkerPool pool(options(kWorker));
  pool.start();
  EXPECT_EQ(pool.pids().size(), 2u);
  EXPECT_NE(pool.lockdown().find("seccomp"), std::string::npos) << pool.lockdown();
  auto local = makeTranscoder();
  for (const char* target : {ts::kJPEGLSLossless, ts::kJPEG2000Lossless, ts::kRLELossless, ts::kImplicitVRLittleEndian}) {
    const std::string input = image();
    EXPECT_EQ(pool.transcode(input, target), local->transcode(input, target)) << transferSyntaxName(target);
  }
}

// The niceness a process runs at, from field 19 of /proc/PID/stat.
int niceOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "(comm) "
  std::string field;
  for (int i = 3; i <= 19 && fields >> field; ++i) {
  }
  return std::stoi(field);
}

// Conversions yield to Orthanc's own threads: every worker runs at the
// niceness asked for, says so in its lockdown line, and still converts.
TEST(WorkerPool, WorkersRunAtTheNicenessAskedFor) {
  const int ours = niceOf(getpid());
  const int expected = std::max(7, ours);  // never below the niceness they were started with
  WorkerPoolOptions o = options(kWorker);
  o.nice = 7;
  WorkerPool pool(o);
  pool.start();
  ASSERT_EQ(pool.pids().size(), 2u);
  for (pid_t pid : pool.pids()) EXPECT_EQ(niceOf(pid), expected) << pid;
  EXPECT_NE(pool.lockdown().find("nice " + std::to_string(expected)), std::string::npos) << pool.lockdown();
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
  EXPECT_EQ(niceOf(getpid()), ours);  // the calling (Orthanc's) process is left as it was
}

// OpenJPH under the worker's seccomp filter: encoding, decoding, and an
// OpenJPH error (its message goes through a stdio cookie stream) all work
// without a system call the filter forbids.
TEST(WorkerPool, Htj2kRunsInsideTheSandbox) {
  WorkerPool pool(options(kWorker, 1));
  pool.start();
  const pid_t before = pool.pids().at(0);
  auto local = makeTranscoder();
  const std::string input = image();
  const std::string ht = pool.transcode(input, ts::kHTJ2KLossless);
  EXPECT_EQ(ht, local->transcode(input, ts::kHTJ2KLossless));
  EXPECT_EQ(pool.transcode(ht, ts::kJPEGLSLossless), local->transcode(ht, ts::kJPEGLSLossless));
  EXPECT_FALSE(pool.transcode(input, ts::kHTJ2K).empty());
  // A codestream whose SIZ marker is broken: OpenJPH itself refuses it.
  std::string broken = ht;
  const size_t soc = broken.rfind(std::string("\xFF\x4F\xFF\x51", 4));
  ASSERT_NE(soc, std::string::npos);
  broken[soc + 5] = '\x03';  // Lsiz
  try {
    pool.transcode(broken, ts::kJPEGLSLossless);
    FAIL() << "a broken HTJ2K codestream was converted";
  } catch (const TranscoderCrash& crash) {
    FAIL() << "a broken HTJ2K codestream crashed the worker: " << crash.what();
  } catch (const TranscodeError& e) {
    EXPECT_NE(std::string(e.what()).find("SIZ marker"), std::string::npos) << "OpenJPH's own words: " << e.what();
  }
  EXPECT_EQ(pool.pids().at(0), before);
  EXPECT_EQ(pool.replacements(), 0u);
}

TEST(WorkerPool, InputErrorsComeBackAsTheyAreWithoutReplacingTheWorker) {
  WorkerPool pool(options(kWorker, 1));
  pool.start();
  const pid_t before = pool.pids().at(0);
  try {
    pool.transcode("not a DICOM file", ts::kJPEGLSLossless);
    FAIL() << "garbage was converted";
  } catch (const TranscoderCrash& crash) {
    FAIL() << "garbage crashed the worker: " << crash.what();
  } catch (const TranscodeError& e) {
    EXPECT_STRNE(e.what(), "");
  }
  EXPECT_EQ(pool.pids().at(0), before);
  EXPECT_EQ(pool.replacements(), 0u);
}

TEST(WorkerPool, ACrashFailsOnlyThatConversionAndSaysWhatWasAsked) {
  WorkerPool pool(options(kFaulty, 1));
  pool.start();
  const pid_t before = pool.pids().at(0);
  TranscoderCrash crash = crashOf(pool, "ROUTER-TEST-ABORT");
  EXPECT_EQ(crash.kind(), TranscoderCrash::Kind::Crash);
  const std::string message = crash.what();
  EXPECT_NE(message.find("transcoder crashed (SIGABRT) converting 48x64"), std::string::npos) << message;
  EXPECT_NE(message.find("ExplicitVRLittleEndian -> JPEG2000Lossless"), std::string::npos) << message;
  EXPECT_NE(pool.pids().at(0), before) << "the dead worker was not replaced";
  EXPECT_EQ(pool.replacements(), 1u);
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEG2000Lossless).empty()) << "the replacement does not work";

  crash = crashOf(pool, "ROUTER-TEST-SEGV");
  EXPECT_NE(std::string(crash.what()).find("SIGSEGV"), std::string::npos) << crash.what();
}

TEST(WorkerPool, AHangIsEndedAtTheTimeLimit) {
  WorkerPoolOptions o = options(kFaulty, 1);
  o.timeLimit = std::chrono::seconds(1);
  WorkerPool pool(o);
  pool.start();
  TranscoderCrash crash = crashOf(pool, "ROUTER-TEST-HANG");
  EXPECT_EQ(crash.kind(), TranscoderCrash::Kind::Timeout);
  EXPECT_NE(std::string(crash.what()).find("time limit of 1 s"), std::string::npos) << crash.what();
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
}

TEST(WorkerPool, TheMemoryLimitHolds) {
  WorkerPoolOptions o = options(kFaulty, 1);
  o.memoryLimitMb = 512;
  WorkerPool pool(o);
  pool.start();
  TranscoderCrash crash = crashOf(pool, "ROUTER-TEST-OOM");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Their shadow memory takes terabytes of address space (Lockdown.cpp).
  GTEST_SKIP() << "no address-space limit under AddressSanitizer or ThreadSanitizer";
#endif
  EXPECT_EQ(crash.kind(), TranscoderCrash::Kind::Memory) << crash.what();
  EXPECT_NE(std::string(crash.what()).find("memory limit of 512 MiB"), std::string::npos) << crash.what();
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
}

TEST(WorkerPool, TheSandboxStopsExecNetworkAndFileWrites) {
  const std::string probe = (std::filesystem::temp_directory_path() / ("router-probe-" + std::to_string(getpid()))).string();
  setenv("ROUTER_TEST_PROBE_FILE", probe.c_str(), 1);
  WorkerPool pool(options(kFaulty, 1));
  pool.start();
  TranscoderCrash crash = crashOf(pool, "ROUTER-TEST-EXEC");
  EXPECT_NE(std::string(crash.what()).find("stopped by its sandbox (SIGSYS"), std::string::npos) << crash.what();
  crash = crashOf(pool, "ROUTER-TEST-NET");
  EXPECT_NE(std::string(crash.what()).find("SIGSYS"), std::string::npos) << crash.what();
  // A refused open lets the conversion go on; a file written would abort.
  EXPECT_FALSE(pool.transcode(image("ROUTER-TEST-WRITE"), ts::kJPEGLSLossless).empty());
  EXPECT_FALSE(std::filesystem::exists(probe));
  unsetenv("ROUTER_TEST_PROBE_FILE");
}

TEST(WorkerPool, AWorkerKilledMidConversionFailsThatOneAndTheOthersGoOn) {
  WorkerPool pool(options(kFaulty, 2));
  pool.start();
  std::atomic<bool> crashed{false};
  std::string message;
  std::thread slow([&] {
    try {
      pool.transcode(image("ROUTER-TEST-SLOW"), ts::kJPEGLSLossless);
    } catch (const TranscoderCrash& crash) {
      crashed = true;
      message = crash.what();
    }
  });
  // The slow conversion holds one worker; kill it (we cannot tell which of
  // the two, so kill the one that is not answering a quick conversion).
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::vector<pid_t> pids = pool.pids();
  int killed = 0;
  for (pid_t pid : pids) {
    std::string state;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/wchan");
    std::getline(stat, state);
    if (state.find("nanosleep") != std::string::npos || state.find("hrtimer") != std::string::npos) {
      kill(pid, SIGKILL);
      ++killed;
    }
  }
  ASSERT_EQ(killed, 1) << "could not tell which worker sleeps";
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(pool.transcode(image("", 10 + i), ts::kJPEGLSLossless).empty());
  slow.join();
  EXPECT_TRUE(crashed);
  EXPECT_NE(message.find("SIGKILL"), std::string::npos) << message;
}

TEST(WorkerPool, AnIdleWorkerThatDiedIsReplacedWithoutFailingAnything) {
  WorkerPool pool(options(kWorker, 1));
  pool.start();
  kill(pool.pids().at(0), SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
}

TEST(WorkerPool, ManyThreadsShareFewWorkers) {
  WorkerPool pool(options(kWorker, 2));
  pool.start();
  auto local = makeTranscoder();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 6; ++i) {
        const std::string input = image("", static_cast<uint32_t>(100 + t * 10 + i));
        if (pool.transcode(input, ts::kJPEGLSLossless) != local->transcode(input, ts::kJPEGLSLossless)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
}

TEST(WorkerPool, AMissingExecutableIsAClearError) {
  WorkerPool pool(options("/nonexistent/orthanc-router-transcoder", 1));
  try {
    pool.start();
    FAIL() << "started without an executable";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/orthanc-router-transcoder"), std::string::npos) << e.what();
  }
}

TEST(WorkerPool, StoppedPoolRefusesAndStartsAgain) {
  WorkerPool pool(options(kWorker, 1));
  pool.start();
  pool.stop();
  EXPECT_TRUE(pool.pids().empty());
  EXPECT_THROW(pool.transcode(image(), ts::kJPEGLSLossless), TranscodeError);
  pool.start();
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
}

TEST(WorkerPool, ItsStateFollowsStartAndStopAndStopWithoutStartIsFine) {
  WorkerPool pool(options(kWorker, 1));
  EXPECT_EQ(pool.state(), RunState::Created);
  pool.stop();
  EXPECT_EQ(pool.state(), RunState::Stopped);
  pool.start();
  EXPECT_EQ(pool.state(), RunState::Running);
  const pid_t first = pool.pids().at(0);
  pool.stop();
  EXPECT_EQ(pool.state(), RunState::Stopped);
  EXPECT_TRUE(pool.pids().empty());
  pool.start();  // new workers
  EXPECT_EQ(pool.state(), RunState::Running);
  ASSERT_EQ(pool.pids().size(), 1u);
  EXPECT_NE(pool.pids().at(0), first);
  EXPECT_FALSE(pool.transcode(image(), ts::kJPEGLSLossless).empty());
}

TEST(WorkerPool, AStartThatCannotSpawnLeavesItRunningAndSaysWhy) {
  WorkerPool pool(options("/nonexistent/orthanc-router-transcoder", 1));
  EXPECT_THROW(pool.start(), RouterError);
  EXPECT_EQ(pool.state(), RunState::Running);  // each transcode tries its worker again
  try {
    pool.transcode(image(), ts::kJPEGLSLossless);
    FAIL() << "converted without a worker";
  } catch (const RouterError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/orthanc-router-transcoder"), std::string::npos) << e.what();
  }
  pool.stop();
  EXPECT_EQ(pool.state(), RunState::Stopped);
}

}  // namespace
}  // namespace router
