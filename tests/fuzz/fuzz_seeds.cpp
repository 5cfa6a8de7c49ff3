// router-fuzz-seeds: writes the seed corpora of the fuzz targets, generated
// here rather than committed as binaries:
//   router-fuzz-seeds OUTDIR [DICOM_DIR...]
// writes OUTDIR/transcode/, OUTDIR/tags/ and OUTDIR/route_answer/:
//  - small images of every kind the standard test suite covers (8/12/16 bit,
//    signed, RGB planar 0/1, multi-frame, odd sizes, no pixel data), each
//    also in every syntax the appliance writes (8x8, or 32x32 where the
//    codec fails on 8x8), so the decoders start from valid compressed data;
//    plus the *.dcm files of each DICOM_DIR (e.g.
//    router-testdata --suite hostile);
//  - transcode seeds: one target byte + one of those files;
//  - route_answer seeds: the text answers of tests/fuzz/seeds/route_answer/
//    are copied by the caller; this adds answers in the structured encoding.
//   router-fuzz-seeds --show-answer FILE
// prints the Lua rule fuzz_route_answer compiles for FILE (to read a finding).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/FuzzEntries.h"
#include "tests/generator/TestData.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

namespace fs = std::filesystem;
using namespace router;

namespace {

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return text.str();
}

// The standard suite's cases, shrunk so that one execution stays cheap
// (side is the even size; odd cases get side-1 x side-3).
std::vector<testdata::ImageSpec> shrunkSpecs(int side) {
  std::vector<testdata::ImageSpec> specs;
  for (testdata::ImageSpec spec : testdata::standardSuite()) {
    const bool odd = spec.rows % 2 != 0 || spec.columns % 2 != 0;
    spec.rows = odd ? side - 1 : side;
    spec.columns = odd ? side - 3 : side;
    spec.frames = std::min(spec.frames, 2);
    specs.push_back(spec);
  }
  return specs;
}

// Transcodes in a child process, its stderr discarded: a codec that aborts
// on some input (GDCM asserts, ASan reports) must not stop the seeding; that
// input gets no seed, and fuzz_transcode finds the crash from the others.
constexpr int kRefused = 3;  // the transcoder threw: a normal refusal

bool transcodeIsolated(const std::string& part10, const std::string& target, const fs::path& out) {
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    if (std::freopen("/dev/null", "w", stderr) == nullptr) _exit(kRefused);
    try {
      writeFile(out, makeTranscoder()->transcode(part10, target));
      _exit(0);
    } catch (const std::exception&) {
      _exit(kRefused);
    }
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status) || WEXITSTATUS(status) != kRefused) {  // ASan exits with 1
      std::cout << "router-fuzz-seeds: note: transcoding " << out.filename().string()
                << " crashed ("
                << (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                        : "exit " + std::to_string(WEXITSTATUS(status)))
                << "); trying a larger image\n";
    }
    std::error_code ignored;
    fs::remove(out, ignored);
    return false;
  }
  return true;
}

// Answers in the structured encoding (FuzzEntries.h): opcodes and their
// operand bytes in one list. Word indexes are taken modulo the dictionary
// sizes, so any byte works.
std::string bytesOf(std::initializer_list<int> list) {
  std::string bytes;
  for (int b : list) bytes += static_cast<char>(b);
  return bytes;
}

std::vector<std::pair<std::string, std::string>> structuredAnswers() {
  using namespace fuzz;
  constexpr int kAny = kFlagAnyDestination;
  // clang-format off
  return {
      {"s-nil", bytesOf({0, kNil})},
      {"s-empty-list", bytesOf({0, kList, 0})},
      // { { destination = <word 0> } }
      {"s-one-route", bytesOf({0, kList, 1, kRoute, 0x01, 0})},
      // a route with destination, syntax and a 3-entry modify, then one with a priority
      {"s-route-syntax-modify", bytesOf({0, kList, 2,
                                         kRoute, 0x07, 0, 17, 3, 0, kWord, 0, 5, kFalse, 20, kSmallInteger, 7,
                                         kRoute, 0x0b, 1, 9, kSmallInteger, 0xfe})},
      // a map with a word key and the float key 1.0
      {"s-map-keys", bytesOf({0, kMap, 2, kWord, 9, kWord, 10,
                              kFloat, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, kTrue})},
      // 40 copies of a route, any destination accepted: the long-answer path
      {"s-long-any", bytesOf({kAny, kRepeat, 10, kRoute, 0x01, 0})},
      {"s-self-reference", bytesOf({0, kSelfReference, kList, 1, kRoute, 0x01, 2, kSmallInteger, 2})},
      {"s-metatable", bytesOf({0, kWithMetatable, kList, 0, 0})},
      // two routes sharing one modify table
      {"s-shared-modify", bytesOf({0, kList, 2, kRoute, 0x85, 0, kModify, 1, 0, kWord, 1,
                                   kRoute, 0x85, 1, kEarlierTable, 0})},
      {"s-bytes-function", bytesOf({0, kList, 2, kBytes, 3, 0, 0xff, '"', kFunction, 3})},
  };
  // clang-format on
}

int showAnswer(const fs::path& file) {
  const std::string bytes = readFile(file);
  std::cout << fuzz::routeAnswerSource(reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--show-answer") return showAnswer(argv[2]);
    if (argc < 2 || argv[1][0] == '-') {
      std::cerr << "usage: router-fuzz-seeds OUTDIR [DICOM_DIR...]\n"
                   "       router-fuzz-seeds --show-answer FILE\n";
      return 2;
    }
    const fs::path out = argv[1];
    const fs::path dicomDir = out / "dicom";
    for (const char* sub : {"dicom", "transcode", "tags", "route_answer"})
      fs::create_directories(out / sub);

    // Every image once as generated, then in each syntax the appliance writes.
    std::vector<fs::path> files;
    const std::vector<std::string>& targets = fuzz::transcodeTargets();
    const std::vector<testdata::ImageSpec> small = shrunkSpecs(8), larger = shrunkSpecs(32);
    for (size_t i = 0; i < small.size(); ++i) {
      const std::string part10 = testdata::makeInstance(small[i]);
      const fs::path original = dicomDir / (small[i].name + ".dcm");
      writeFile(original, part10);
      files.push_back(original);
      for (const std::string& target : targets) {
        const std::string suffix = "." + transferSyntaxName(target) + ".dcm";
        if (transcodeIsolated(part10, target, dicomDir / (small[i].name + suffix))) {
          files.push_back(dicomDir / (small[i].name + suffix));
        } else if (transcodeIsolated(testdata::makeInstance(larger[i]), target,
                                     dicomDir / (larger[i].name + ".32" + suffix))) {
          files.push_back(dicomDir / (larger[i].name + ".32" + suffix));
        }
      }
    }
    for (int i = 2; i < argc; ++i) {
      for (const auto& entry : fs::directory_iterator(argv[i])) {
        if (entry.is_regular_file() && entry.path().extension() == ".dcm")
          files.push_back(entry.path());
      }
    }

    // tags: each file as it is. transcode: each file behind two target
    // bytes, rotating so that every target meets every kind of source.
    size_t rotation = 0;
    for (const fs::path& file : files) {
      const std::string bytes = readFile(file);
      const std::string stem = file.stem().string();
      writeFile(out / "tags" / (stem + ".dcm"), bytes);
      for (int k = 0; k < 2; ++k) {
        const size_t target = rotation++ % targets.size();
        writeFile(
            out / "transcode" / (stem + ".to-" + transferSyntaxName(targets[target]) + ".bin"),
            std::string(1, static_cast<char>(target)) + bytes);
      }
    }
    for (const auto& [name, bytes] : structuredAnswers()) {
      writeFile(out / "route_answer" / (name + ".bin"), bytes);
    }
    std::cout << "router-fuzz-seeds: " << files.size() << " DICOM files, " << targets.size()
              << " targets, " << structuredAnswers().size() << " structured answers in "
              << out.string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "router-fuzz-seeds: " << e.what() << "\n";
    return 1;
  }
}
