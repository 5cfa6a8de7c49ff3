// An independent HTJ2K decoder for the tests: OpenJPEG 2.5's opj_decompress
// (libopenjp2-tools) run as a child process on each frame's codestream.
// DCMTK 3.6.7 and GDCM cannot decode HTJ2K, and the codestreams are taken
// out of the file by a parser of its own here (not the router's
// Encapsulation code), so nothing of ours is on the checking side.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/generator/TestSupport.h"

namespace router::testdata::htj2k {

inline bool haveOpjDecompress() {
  return run("command -v opj_decompress").exitCode == 0;
}

inline std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline uint32_t le32(const std::string& b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 |
         uint32_t(uint8_t(b[at + 2])) << 16 | uint32_t(uint8_t(b[at + 3])) << 24;
}

// The fragments of the encapsulated Pixel Data of an Explicit VR Little
// Endian dataset (the last (7FE0,0010) OB element of undefined length),
// Basic Offset Table left out. Empty when there is none.
inline std::vector<std::string> fragmentsOf(const std::string& part10) {
  static const char kHeader[] = {'\xE0', '\x7F', '\x10', '\x00', 'O',    'B',
                                 '\0',   '\0',   '\xFF', '\xFF', '\xFF', '\xFF'};
  const size_t start = part10.rfind(std::string(kHeader, sizeof kHeader));
  std::vector<std::string> fragments;
  if (start == std::string::npos) return fragments;
  size_t at = start + sizeof kHeader;
  bool first = true;
  while (at + 8 <= part10.size()) {
    const uint32_t tag = le32(part10, at), length = le32(part10, at + 4);
    at += 8;
    if (tag == 0xE0DDFFFEu) break;  // sequence delimiter
    if (tag != 0xE000FFFEu || at + length > part10.size()) return {};
    if (!first) fragments.push_back(part10.substr(at, length));
    first = false;
    at += length;
  }
  return fragments;
}

// Decodes every frame of an HTJ2K file with opj_decompress and returns the
// native pixel bytes as a receiver would store them: colour by pixel
// (PlanarConfiguration 0), bitsAllocated bits per sample, little endian,
// signed samples sign-extended. On failure, error says why and the result is
// empty.
inline std::vector<uint8_t> opjDecodedPixels(const std::filesystem::path& file, int rows,
                                             int columns, int samplesPerPixel, int bitsAllocated,
                                             bool isSigned, std::string& error) {
  const std::vector<std::string> frames = fragmentsOf(readAll(file));
  if (frames.empty()) {
    error = "no encapsulated pixel data in " + file.string();
    return {};
  }
  TempDir dir;
  const size_t pixels = size_t(rows) * size_t(columns);
  const size_t outBytes = size_t(bitsAllocated / 8);
  std::vector<uint8_t> out;
  for (size_t f = 0; f < frames.size(); ++f) {
    const std::filesystem::path in = dir.path() / ("frame" + std::to_string(f) + ".j2k");
    const std::filesystem::path raw = dir.path() / ("frame" + std::to_string(f) + ".rawl");
    std::string codestream = frames[f];
    if (codestream.size() > 2 && codestream.back() == '\0')
      codestream.pop_back();  // the fragment's pad byte
    std::ofstream(in, std::ios::binary)
        .write(codestream.data(), std::streamsize(codestream.size()));
    const RunResult result = run("opj_decompress -quiet -i " + in.string() + " -o " + raw.string());
    const std::string samples = readAll(raw);
    if (result.exitCode != 0 || samples.empty()) {
      error = "opj_decompress failed on frame " + std::to_string(f + 1) + ": " + result.output;
      return {};
    }
    // .rawl: component after component, 1 byte per sample up to 8 bits,
    // else 2 bytes, little endian.
    const size_t count = pixels * size_t(samplesPerPixel);
    if (samples.size() != count && samples.size() != 2 * count) {
      error = "opj_decompress wrote " + std::to_string(samples.size()) + " bytes for frame " +
              std::to_string(f + 1) + "; expected " + std::to_string(count) + " samples";
      return {};
    }
    const size_t inBytes = samples.size() / count;
    for (size_t p = 0; p < pixels; ++p)
      for (size_t c = 0; c < size_t(samplesPerPixel); ++c) {
        const size_t i = c * pixels + p;
        int32_t value = inBytes == 1
                            ? int32_t(uint8_t(samples[i]))
                            : int32_t(uint8_t(samples[2 * i]) | uint8_t(samples[2 * i + 1]) << 8);
        if (isSigned) value = inBytes == 1 ? int32_t(int8_t(value)) : int32_t(int16_t(value));
        out.push_back(uint8_t(uint32_t(value) & 0xFF));
        if (outBytes == 2) out.push_back(uint8_t((uint32_t(value) >> 8) & 0xFF));
      }
  }
  return out;
}

}  // namespace router::testdata::htj2k
