// Small helpers the C++ tests share: a scratch folder removed at the end of
// the test, running a command-line tool (dcmtk, GDCM) to check our output
// with a decoder that is not our own, and a free port for a test peer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

class DcmDataset;

namespace router::testdata {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "router-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exitCode = -1;   // -1: could not run or did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs command with /bin/sh and collects its output.
RunResult run(const std::string& command);

// The bytes of a dataset's native PixelData as DCMTK holds them (OW as
// little-endian words); empty without pixel data.
std::vector<uint8_t> nativePixelBytes(DcmDataset& dataset);

// A loopback TCP port nobody listens on right now (0 if none could be found).
int freeTcpPort();

}  // namespace router::testdata
