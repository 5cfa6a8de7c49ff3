// Replays every input the fuzzers ever found (tests/fuzz/regressions/<target>/)
// and the hand-written seed answers (tests/fuzz/seeds/route_answer/) through
// the fuzz entries (tests/fuzz/FuzzEntries.h), with the normal build. Each
// file runs in a child process, so one that still crashes fails its own test
// case, with the signal, and the others still run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "tests/fuzz/FuzzEntries.h"

namespace router {
namespace {

namespace fs = std::filesystem;

using Entry = void (*)(const uint8_t*, size_t);

struct Replay {
  std::string target;  // transcode, tags, route_answer
  fs::path file;
  bool seed;  // a seed must also be accepted as input (no exception)
};

// For gtest's messages (instead of the struct's bytes).
void PrintTo(const Replay& replay, std::ostream* out) {
  *out << "fuzz_" << replay.target << " " << replay.file.string();
}

Entry entryFor(const std::string& target) {
  if (target == "transcode") return fuzz::transcodeOne;
  if (target == "tags") return fuzz::tagsOne;
  if (target == "multipart") return fuzz::multipartOne;
  return fuzz::routeAnswerOne;
}

std::vector<Replay> replays() {
  const fs::path fuzzDir = fs::path(ROUTER_SOURCE_DIR) / "tests" / "fuzz";
  std::vector<Replay> list;
  const auto add = [&](const std::string& target, const fs::path& dir, bool seed) {
    std::error_code error;
    if (!fs::is_directory(dir, error)) return;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_regular_file() || name[0] == '.' || name.rfind("README", 0) == 0) continue;
      list.push_back({target, entry.path(), seed});
    }
  };
  for (const char* target : {"transcode", "tags", "route_answer", "multipart"}) {
    add(target, fuzzDir / "regressions" / target, false);
  }
  add("route_answer", fuzzDir / "seeds" / "route_answer", true);
  add("multipart", fuzzDir / "seeds" / "multipart", true);
  std::sort(list.begin(), list.end(), [](const Replay& a, const Replay& b) {
    return a.target + a.file.string() < b.target + b.file.string();
  });
  return list;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Child exit codes.
constexpr int kReturned = 0;
constexpr int kStdException = 10;
constexpr int kOtherException = 11;
constexpr unsigned kSecondsPerFile = 30;  // a hang is a finding too (SIGALRM)

class FuzzRegression : public ::testing::TestWithParam<Replay> {};

TEST_P(FuzzRegression, ReturnsOrThrowsStdException) {
  const Replay& replay = GetParam();
  const std::string bytes = readFile(replay.file);
  const Entry entry = entryFor(replay.target);
  const pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    // A group of its own: GDCM's JPEG decoder may start /usr/bin/pvrg-jpeg
    // (system()), which must not outlive the replay.
    setpgid(0, 0);
    alarm(kSecondsPerFile);
    int code = kReturned;
    try {
      entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      code = kStdException;
      if (replay.seed) std::fprintf(stderr, "refused: %s\n", e.what());
    } catch (...) {
      code = kOtherException;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  kill(-child, SIGKILL);  // whatever the replay started and left behind
  const std::string what = "fuzz_" + replay.target + " input " + replay.file.string();
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    FAIL() << what << " killed the process with signal " << signal << " (" << strsignal(signal)
           << (signal == SIGALRM ? ": it ran longer than the time allowed" : "")
           << "); reproduce with the fuzzer: build-fuzz/tests/fuzz/fuzz_" << replay.target << " "
           << replay.file.string();
  }
  ASSERT_TRUE(WIFEXITED(status));
  const int code = WEXITSTATUS(status);
  EXPECT_NE(code, kOtherException) << what << " threw an exception not derived from std::exception";
  if (replay.seed) {
    // A seed that does not even compile teaches the fuzzer nothing.
    EXPECT_EQ(code, kReturned) << what << " is a seed and must be accepted (see its stderr)";
  } else {
    EXPECT_TRUE(code == kReturned || code == kStdException) << what << ": exit code " << code;
  }
}

std::string caseName(const ::testing::TestParamInfo<Replay>& info) {
  std::string name = info.param.target + "_" + (info.param.seed ? "seed_" : "") +
                     info.param.file.filename().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, FuzzRegression, ::testing::ValuesIn(replays()), caseName);

TEST(FuzzRegressionFiles, SeedAnswersAreThere) {
  const std::vector<Replay> all = replays();
  EXPECT_GE(std::count_if(all.begin(), all.end(), [](const Replay& r) { return r.seed; }), 3)
      << "tests/fuzz/seeds/route_answer/ should hold the hand-written seed answers";
}

// The files' names say what they found; a few KiB keeps them readable in
// review and quick to replay. An over-read in an uninstrumented library
// shows only when it reaches unmapped memory, so such a finding needs its
// size and cannot be minimised: a few of those may be bigger.
TEST(FuzzRegressionFiles, AreSmall) {
  const std::set<std::string> needTheirSize = {"gdcm-jpeg-encoder-overread-ybr-full-without-samples-per-pixel"};
  for (const Replay& replay : replays()) {
    const bool big = needTheirSize.count(replay.file.filename().string()) > 0;
    EXPECT_LE(fs::file_size(replay.file), (big ? 64u : 16u) * 1024)
        << replay.file << ": minimise it (-minimize_crash=1)";
  }
}

}  // namespace
}  // namespace router
