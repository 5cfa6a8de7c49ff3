// transcode_bench: throughput of the appliance's transcoder (makeTranscoder())
// on a 512x512 16-bit signed CT, per target transfer syntax, encode from
// Explicit VR Little Endian and decode back, beside baselines measured in the
// same run:
//   - raw CharLS 2.4 (jpegls_encoder / jpegls_decoder) on the same pixels,
//     with the parameters the transcoder uses: the JPEG-LS overhead of our
//     path (parse, copy, encapsulate, serialize) is the difference;
//   - GDCM's JPEG2000Codec on the same pixels (OpenJPEG 2.5 underneath; the
//     libopenjp2 headers, package libopenjp2-7-dev, are not installed, so
//     OpenJPEG cannot be called directly);
//   - HTJ2K (OpenJPH 0.9.0) and JPEG 2000 (OpenJPEG) through our path, as
//     multiples of JPEG-LS's speed and beside its compression ratio;
//   - our path with no codec at all (Explicit -> Implicit VR): the floor of
//     parsing and serializing a Part-10 file;
//   - dcmtk's and GDCM's command-line converters on the same file, fork/exec
//     per run, so their times include process start and file I/O (dcmconv,
//     which converts nothing, shows that floor).
// Two images: the generator's CT slice (shapes plus uniform noise of about
// +-120 HU: hard to compress) and a smooth anatomy-like phantom with CT-like
// noise (sigma 4..20 HU), closer to what scanners produce.
//
// Then the price of crash isolation: the generator's 300-slice CT series
// (ctSeries(300, seed)) to JPEG-LS lossless through a WorkerPool (one worker
// process per thread, socket + memfd per image) against makeTranscoder() in
// this process, with 2 threads (the appliance's default on 2 cores) and 1;
// rounds interleaved (in-process, pool, in-process, pool, ...) so that drift
// on a shared machine falls on both; medians of the rounds. And the boundary
// alone, per image: conversions that run no codec (Explicit VR -> Explicit VR,
// which TranscoderSet hands back unchanged after parsing; Explicit -> Implicit,
// which only re-encodes the dataset), pool minus in process. And what the
// file around the pixels costs: the 1-thread JPEG-LS rounds also run raw
// CharLS on the same slices' pixels (raw, in process, pool, raw, ...), and
// the whole conversion per slice is printed as a multiple of it.
//
// Usage: transcode_bench [--cli-runs N] [--no-cli] [--workdir DIR]
//                        [--pool-rounds N] [--pool-slices N] [--worker PATH] [--no-pool]
//                        [benchmark flags]
// Prints Google Benchmark's table, then a summary with MB/s (uncompressed
// pixel MB = 2^20 bytes) and ratios, then the workers' comparison. Never
// asserts a timing.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <charls/charls.h>
#include <dcmtk/dcmdata/dctk.h>
#include <gdcmDataElement.h>
#include <gdcmJPEG2000Codec.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>

#include "plugins/core/dicom/DicomBuffer.h"
#include "tests/generator/TestData.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"
#include "transcoders/worker/WorkerPool.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace td = router::testdata;
using Clock = std::chrono::steady_clock;

constexpr int kRows = 512, kColumns = 512;
constexpr double kMiB = 1024.0 * 1024.0;

struct Target {
  const char* keyword;
  const char* uid;
};

const std::vector<Target> kTargets = {
    {"JPEGLSLossless", router::ts::kJPEGLSLossless},   {"JPEGLSNearLossless", router::ts::kJPEGLSNearLossless},
    {"JPEG2000Lossless", router::ts::kJPEG2000Lossless}, {"JPEG2000", router::ts::kJPEG2000},
    {"RLELossless", router::ts::kRLELossless},         {"JPEGLossless", router::ts::kJPEGLossless},
    {"JPEGLosslessSV1", router::ts::kJPEGLosslessSV1}, {"HTJ2KLossless", router::ts::kHTJ2KLossless},
    {"HTJ2K", router::ts::kHTJ2K},
};

struct TestImage {
  std::string name;       // "generator" or "phantom"
  std::string part10;     // Explicit VR Little Endian
  std::vector<int16_t> pixels;
  std::string path;       // the same file on disk, for the command-line tools
  std::map<std::string, std::string> encoded;  // target uid -> our Part-10 output
};

std::vector<TestImage> gImages;
std::unique_ptr<router::Transcoder> gTranscoder;

// ---------------------------------------------------------------- test images

// A 512x512 axial slice that looks like CT to a codec: air, a body ellipse of
// soft tissue, fat rim, two lungs, spine and ribs of bone, the table, the
// region outside the reconstruction circle at -2000 (what many scanners
// write there), and Gaussian noise whose level depends on the tissue.
std::vector<int16_t> phantomPixels(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<int16_t> out(size_t(kRows) * kColumns);
  const double cx = kColumns / 2.0, cy = kRows / 2.0;
  auto inEllipse = [](double x, double y, double ex, double ey, double rx, double ry) {
    const double dx = (x - ex) / rx, dy = (y - ey) / ry;
    return dx * dx + dy * dy < 1.0;
  };
  for (int y = 0; y < kRows; ++y) {
    for (int x = 0; x < kColumns; ++x) {
      double hu, sigma;
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > 255.0 * 255.0) {
        out[size_t(y) * kColumns + x] = -2000;
        continue;
      }
      if (y > 430 && y < 445 && x > 90 && x < 422) {
        hu = 300, sigma = 15;  // table
      } else if (!inEllipse(x, y, cx, cy - 10, 210, 160)) {
        hu = -1000, sigma = 4;  // air
      } else if (!inEllipse(x, y, cx, cy - 10, 200, 150)) {
        hu = -100, sigma = 10;  // subcutaneous fat
      } else if (inEllipse(x, y, cx - 85, cy - 20, 60, 95) || inEllipse(x, y, cx + 85, cy - 20, 60, 95)) {
        // lungs, with a slow gradient (gravity-dependent density)
        hu = -860 + 0.3 * (y - cy), sigma = 20;
      } else if (inEllipse(x, y, cx, cy + 95, 28, 26)) {
        hu = inEllipse(x, y, cx, cy + 95, 14, 12) ? 250 : 900, sigma = 18;  // vertebra: marrow, cortex
      } else if (inEllipse(x, y, cx, cy - 10, 190, 140) && !inEllipse(x, y, cx, cy - 10, 180, 130) &&
                 (int(std::atan2(y - cy, x - cx) * 12) % 2 == 0)) {
        hu = 700, sigma = 18;  // ribs
      } else if (inEllipse(x, y, cx + 10, cy - 5, 45, 40)) {
        hu = 45 + 0.02 * ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 40.0, sigma = 12;  // heart
      } else {
        hu = 40, sigma = 12;  // soft tissue
      }
      const double v = std::round(hu + sigma * gauss(rng));
      out[size_t(y) * kColumns + x] = int16_t(std::clamp(v, -1024.0, 3071.0));
    }
  }
  return out;
}

void checkCondition(const OFCondition& cond, const std::string& what) {
  if (cond.bad()) throw std::runtime_error(what + ": " + cond.text());
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Reads PixelData of a Part-10 file on disk; with replacement, puts those
// pixels in instead and saves the file (Explicit VR Little Endian).
std::vector<int16_t> pixelsOf(const std::string& path, const std::vector<int16_t>* replacement) {
  DcmFileFormat file;
  checkCondition(file.loadFile(path.c_str()), "load " + path);
  DcmDataset& ds = *file.getDataset();
  if (replacement) {
    checkCondition(ds.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(replacement->data()),
                                              replacement->size()),
                   "PixelData");
    checkCondition(file.saveFile(path.c_str(), EXS_LittleEndianExplicit), "save " + path);
    return *replacement;
  }
  const Uint16* words = nullptr;
  unsigned long count = 0;
  checkCondition(ds.findAndGetUint16Array(DCM_PixelData, words, &count), "PixelData of " + path);
  std::vector<int16_t> out(count);
  std::memcpy(out.data(), words, count * 2);
  return out;
}

// PixelData of a Part-10 file in memory (16-bit words).
std::vector<int16_t> pixelsOfPart10(const std::string& part10) {
  const std::unique_ptr<DcmFileFormat> file = router::parseDicom(part10);
  const Uint16* words = nullptr;
  unsigned long count = 0;
  checkCondition(file->getDataset()->findAndGetUint16Array(DCM_PixelData, words, &count), "PixelData");
  std::vector<int16_t> out(count);
  std::memcpy(out.data(), words, count * 2);
  return out;
}

void makeImages(const std::string& workdir) {
  fs::create_directories(workdir);
  const td::ImageSpec spec = td::ctSeries(1, 7, kRows, kColumns).front();
  const std::string generated = td::makeInstance(spec);

  TestImage gen;
  gen.name = "generator";
  gen.path = workdir + "/generator.dcm";
  writeFile(gen.path, generated);
  gen.pixels = pixelsOf(gen.path, nullptr);
  gen.part10 = generated;
  gImages.push_back(std::move(gen));

  TestImage phantom;
  phantom.name = "phantom";
  phantom.path = workdir + "/phantom.dcm";
  writeFile(phantom.path, generated);
  const std::vector<int16_t> pixels = phantomPixels(11);
  phantom.pixels = pixelsOf(phantom.path, &pixels);
  phantom.part10 = readFile(phantom.path);
  gImages.push_back(std::move(phantom));

  for (TestImage& image : gImages)
    for (const Target& t : kTargets) image.encoded[t.uid] = gTranscoder->transcode(image.part10, t.uid);
}

size_t pixelBytes(const TestImage& image) { return image.pixels.size() * sizeof(int16_t); }

// ---------------------------------------------------------------- raw codecs

// The transcoder codes a 16-bit signed CT with BitsStored 16 as 16-bit
// samples (CharlsFamily: codedBits), NEAR 2 for near-lossless.
std::string charlsEncode(const std::vector<int16_t>& pixels, int nearLossless) {
  charls::jpegls_encoder encoder;
  encoder.frame_info({uint32_t(kColumns), uint32_t(kRows), 16, 1}).near_lossless(nearLossless);
  std::string out(encoder.estimated_destination_size(), '\0');
  encoder.destination(out.data(), out.size());
  out.resize(encoder.encode(pixels.data(), pixels.size() * sizeof(int16_t)));
  return out;
}

std::string charlsEncode(const TestImage& image, int nearLossless) { return charlsEncode(image.pixels, nearLossless); }

std::string charlsDecode(const std::string& stream) {
  charls::jpegls_decoder decoder(stream.data(), stream.size(), true);
  std::string pixels(decoder.destination_size(), '\0');
  decoder.decode(pixels.data(), pixels.size());
  return pixels;
}

void setupJ2k(gdcm::JPEG2000Codec& codec) {
  const unsigned dims[3] = {unsigned(kColumns), unsigned(kRows), 1};
  codec.SetNumberOfDimensions(2);
  codec.SetDimensions(dims);
  codec.SetPixelFormat(gdcm::PixelFormat(1, 16, 16, 15, 1));
  codec.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::MONOCHROME2);
  codec.SetNeedByteSwap(false);
  codec.SetReversible(true);
}

gdcm::DataElement j2kEncode(const TestImage& image) {
  gdcm::JPEG2000Codec codec;
  setupJ2k(codec);
  gdcm::DataElement in(gdcm::Tag(0x7fe0, 0x0010));
  in.SetByteValue(reinterpret_cast<const char*>(image.pixels.data()), uint32_t(pixelBytes(image)));
  gdcm::DataElement out;
  if (!codec.Code(in, out)) throw std::runtime_error("GDCM JPEG2000Codec::Code failed");
  return out;
}

size_t j2kDecode(const gdcm::DataElement& encoded) {
  gdcm::JPEG2000Codec codec;
  setupJ2k(codec);
  gdcm::DataElement out;
  if (!codec.Decode(encoded, out) || !out.GetByteValue()) throw std::runtime_error("GDCM JPEG2000Codec::Decode failed");
  return out.GetByteValue()->GetLength();
}

// ---------------------------------------------------------------- benchmarks

void setPixelBytes(benchmark::State& state, const TestImage& image) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(pixelBytes(image)));
}

void registerAll() {
  for (size_t i = 0; i < gImages.size(); ++i) {
    const std::string& name = gImages[i].name;
    auto reg = [](const std::string& n, auto fn) {
      benchmark::RegisterBenchmark(n.c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
    };
    for (const Target& t : kTargets) {
      reg("encode/" + name + "/" + t.keyword, [i, t](benchmark::State& state) {
        const TestImage& image = gImages[i];
        for (auto _ : state) benchmark::DoNotOptimize(gTranscoder->transcode(image.part10, t.uid));
        setPixelBytes(state, image);
      });
      reg("decode/" + name + "/" + t.keyword, [i, t](benchmark::State& state) {
        const TestImage& image = gImages[i];
        const std::string& in = image.encoded.at(t.uid);
        for (auto _ : state)
          benchmark::DoNotOptimize(gTranscoder->transcode(in, router::ts::kExplicitVRLittleEndian));
        setPixelBytes(state, image);
      });
    }
    reg("encode/" + name + "/NoCodec(Implicit)", [i](benchmark::State& state) {
      const TestImage& image = gImages[i];
      for (auto _ : state)
        benchmark::DoNotOptimize(gTranscoder->transcode(image.part10, router::ts::kImplicitVRLittleEndian));
      setPixelBytes(state, image);
    });
    reg("raw-encode/" + name + "/CharLS-lossless", [i](benchmark::State& state) {
      for (auto _ : state) benchmark::DoNotOptimize(charlsEncode(gImages[i], 0));
      setPixelBytes(state, gImages[i]);
    });
    reg("raw-encode/" + name + "/CharLS-near2", [i](benchmark::State& state) {
      for (auto _ : state) benchmark::DoNotOptimize(charlsEncode(gImages[i], 2));
      setPixelBytes(state, gImages[i]);
    });
    reg("raw-decode/" + name + "/CharLS-lossless", [i](benchmark::State& state) {
      const std::string stream = charlsEncode(gImages[i], 0);
      for (auto _ : state) benchmark::DoNotOptimize(charlsDecode(stream));
      setPixelBytes(state, gImages[i]);
    });
    reg("raw-decode/" + name + "/CharLS-near2", [i](benchmark::State& state) {
      const std::string stream = charlsEncode(gImages[i], 2);
      for (auto _ : state) benchmark::DoNotOptimize(charlsDecode(stream));
      setPixelBytes(state, gImages[i]);
    });
    reg("raw-encode/" + name + "/GDCM-J2K-lossless", [i](benchmark::State& state) {
      for (auto _ : state) benchmark::DoNotOptimize(j2kEncode(gImages[i]));
      setPixelBytes(state, gImages[i]);
    });
    reg("raw-decode/" + name + "/GDCM-J2K-lossless", [i](benchmark::State& state) {
      const gdcm::DataElement encoded = j2kEncode(gImages[i]);
      for (auto _ : state) benchmark::DoNotOptimize(j2kDecode(encoded));
      setPixelBytes(state, gImages[i]);
    });
  }
}

// Remembers ms per iteration of every run for the summary.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  RecordingReporter() : ConsoleReporter(OO_Tabular) {}
  std::map<std::string, double> msPerImage;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      const double seconds = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      std::string name = run.benchmark_name();
      const std::string suffix = "/real_time";
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
        name.resize(name.size() - suffix.size());
      msPerImage[name] = seconds * 1e3;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

// ---------------------------------------------------------------- command-line tools

// Runs argv N times (fork/exec, output to /dev/null); ms per run, or -1 when
// the tool is missing or fails.
double timeCommand(std::vector<std::string> argv, int runs) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  double total = 0;
  bool ok = true;
  for (int r = 0; r < runs + 1 && ok; ++r) {  // run 0 warms the page cache, not counted
    const auto start = Clock::now();
    pid_t pid = 0;
    if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
      ok = false;
      break;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = false;
    if (r > 0) total += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  posix_spawn_file_actions_destroy(&actions);
  return ok ? total / runs : -1;
}

struct CliCase {
  std::string label;     // what it does
  std::string compareTo; // our benchmark name suffix ("encode/<image>/<keyword>")
  std::vector<std::string> encodeArgs;  // {tool, options...}; input and output appended
  std::vector<std::string> decodeArgs;  // applied to the encoded output
};

std::vector<CliCase> cliCases() {
  return {
      {"dcmconv (no conversion: process start + I/O)", "encode/%s/NoCodec(Implicit)", {"dcmconv", "+ti"}, {}},
      {"dcmcjpls lossless / dcmdjpls", "%s/JPEGLSLossless", {"dcmcjpls", "+el"}, {"dcmdjpls"}},
      {"dcmcjpls near-lossless (NEAR 2) / dcmdjpls", "%s/JPEGLSNearLossless", {"dcmcjpls", "+en", "+md", "2"},
       {"dcmdjpls"}},
      {"dcmcjpeg +el (process 14) / dcmdjpeg", "%s/JPEGLossless", {"dcmcjpeg", "+el"}, {"dcmdjpeg"}},
      {"dcmcjpeg +e1 (process 14 SV1) / dcmdjpeg", "%s/JPEGLosslessSV1", {"dcmcjpeg", "+e1"}, {"dcmdjpeg"}},
      {"dcmcrle / dcmdrle", "%s/RLELossless", {"dcmcrle"}, {"dcmdrle"}},
      {"gdcmconv --j2k (lossless) / gdcmconv --raw", "%s/JPEG2000Lossless", {"gdcmconv", "--j2k"},
       {"gdcmconv", "--raw"}},
  };
}

struct CliResult {
  std::string label, compareTo;
  double encodeMs, decodeMs;
};

std::vector<CliResult> runCli(const TestImage& image, const std::string& workdir, int runs) {
  std::vector<CliResult> results;
  int n = 0;
  for (const CliCase& c : cliCases()) {
    const std::string encoded = workdir + "/cli-" + image.name + "-" + std::to_string(n) + ".dcm";
    const std::string decoded = workdir + "/cli-" + image.name + "-" + std::to_string(n) + "-dec.dcm";
    ++n;
    std::vector<std::string> enc = c.encodeArgs;
    enc.push_back(image.path);
    enc.push_back(encoded);
    CliResult r{c.label, c.compareTo, timeCommand(enc, runs), -1};
    if (!c.decodeArgs.empty() && r.encodeMs >= 0) {
      std::vector<std::string> dec = c.decodeArgs;
      dec.push_back(encoded);
      dec.push_back(decoded);
      r.decodeMs = timeCommand(dec, runs);
    }
    results.push_back(r);
  }
  return results;
}

// ---------------------------------------------------------------- summary

std::string fmt(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

double mbps(const TestImage& image, double ms) { return ms > 0 ? pixelBytes(image) / kMiB / (ms / 1e3) : 0; }

void printSummary(const std::map<std::string, double>& ms, const std::map<std::string, std::vector<CliResult>>& cli,
                  int cliRuns) {
  auto get = [&](const std::string& name) {
    auto it = ms.find(name);
    return it == ms.end() ? -1.0 : it->second;
  };
  std::printf("\n==== transcode summary (512x512 16-bit signed CT, %.2f MB of pixels per image) ====\n",
              pixelBytes(gImages.front()) / kMiB);
  for (const TestImage& image : gImages) {
    const std::string& n = image.name;
    std::printf("\n-- image: %s --\n", n.c_str());
    std::printf("%-20s %9s %9s %9s %9s %8s\n", "target", "enc ms", "enc MB/s", "dec ms", "dec MB/s", "ratio");
    for (const Target& t : kTargets) {
      const double e = get("encode/" + n + "/" + t.keyword), d = get("decode/" + n + "/" + t.keyword);
      const double compressed = double(image.encoded.at(t.uid).size());
      std::printf("%-20s %9.2f %9.1f %9.2f %9.1f %7.2fx\n", t.keyword, e, mbps(image, e), d, mbps(image, d),
                  double(image.part10.size()) / compressed);
    }
    const double floor = get("encode/" + n + "/NoCodec(Implicit)");
    std::printf("%-20s %9.2f %9.1f   (parse + serialize only, no codec)\n", "no codec", floor, mbps(image, floor));

    std::printf("\n  JPEG-LS: our path vs raw CharLS 2.4 on the same pixels (target: ratio <= 1.2, overhead < 1 ms)\n");
    std::printf("  %-28s %9s %9s %8s %12s\n", "", "ours ms", "raw ms", "ratio", "overhead ms");
    const struct {
      const char* label;
      std::string ours, raw;
    } rows[] = {
        {"encode lossless", "encode/" + n + "/JPEGLSLossless", "raw-encode/" + n + "/CharLS-lossless"},
        {"decode lossless", "decode/" + n + "/JPEGLSLossless", "raw-decode/" + n + "/CharLS-lossless"},
        {"encode near-lossless (2)", "encode/" + n + "/JPEGLSNearLossless", "raw-encode/" + n + "/CharLS-near2"},
        {"decode near-lossless (2)", "decode/" + n + "/JPEGLSNearLossless", "raw-decode/" + n + "/CharLS-near2"},
        {"encode J2K lossless *", "encode/" + n + "/JPEG2000Lossless", "raw-encode/" + n + "/GDCM-J2K-lossless"},
        {"decode J2K lossless *", "decode/" + n + "/JPEG2000Lossless", "raw-decode/" + n + "/GDCM-J2K-lossless"},
    };
    for (const auto& r : rows) {
      const double ours = get(r.ours), raw = get(r.raw);
      std::printf("  %-28s %9.2f %9.2f %7.2fx %12.2f\n", r.label, ours, raw, raw > 0 ? ours / raw : 0, ours - raw);
    }
    std::printf("  * J2K baseline: GDCM's JPEG2000Codec on raw pixels (OpenJPEG 2.5 inside; no libopenjp2 headers)\n");

    // HTJ2K (OpenJPH 0.9.0) against the other lossless codecs, all through
    // our path: speed as a multiple of JPEG-LS (CharLS), size as the ratio.
    std::printf("\n  lossless codecs through our path, against JPEG-LS (CharLS 2.4) in this run\n");
    std::printf("  %-20s %10s %10s %8s\n", "", "enc speed", "dec speed", "ratio");
    const double lsEncode = get("encode/" + n + "/JPEGLSLossless"), lsDecode = get("decode/" + n + "/JPEGLSLossless");
    for (const char* keyword : {"JPEGLSLossless", "HTJ2KLossless", "JPEG2000Lossless"}) {
      const Target& t = *std::find_if(kTargets.begin(), kTargets.end(),
                                      [&](const Target& x) { return std::string(x.keyword) == keyword; });
      const double e = get("encode/" + n + "/" + keyword), d = get("decode/" + n + "/" + keyword);
      std::printf("  %-20s %9.2fx %9.2fx %7.2fx\n", keyword, e > 0 ? lsEncode / e : 0, d > 0 ? lsDecode / d : 0,
                  double(image.part10.size()) / double(image.encoded.at(t.uid).size()));
    }
    std::printf("  (speed: CharLS time / this codec's time; above 1 is faster than CharLS)\n");

    auto it = cli.find(n);
    if (it != cli.end()) {
      std::printf("\n  command-line tools, mean of %d runs each, fork/exec INCLUDED (process start + file I/O)\n",
                  cliRuns);
      std::printf("  %-46s %9s %9s %11s %11s\n", "", "enc ms", "dec ms", "enc cli/us", "dec cli/us");
      for (const CliResult& r : it->second) {
        char name[128];
        std::snprintf(name, sizeof name, r.compareTo.c_str(), n.c_str());
        const std::string key = name;
        const bool isFloor = key.rfind("encode/", 0) == 0;
        const double oursE = get(isFloor ? key : "encode/" + key), oursD = isFloor ? -1 : get("decode/" + key);
        std::printf("  %-46s %9s %9s %11s %11s\n", r.label.c_str(),
                    r.encodeMs < 0 ? "failed" : fmt("%.2f", r.encodeMs).c_str(),
                    r.decodeMs < 0 ? "-" : fmt("%.2f", r.decodeMs).c_str(),
                    r.encodeMs < 0 || oursE <= 0 ? "-" : fmt("%.2fx", r.encodeMs / oursE).c_str(),
                    r.decodeMs < 0 || oursD <= 0 ? "-" : fmt("%.2fx", r.decodeMs / oursD).c_str());
      }
    }
  }
  std::printf("\n(ratio column of the first tables: Part-10 file size uncompressed / compressed;\n"
              " 'failed': the tool refused, e.g. dcmcjpls 3.6.7 will not code signed pixels near-lossless)\n");
}


// ---------------------------------------------------------------- workers vs in process

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// CPU ms (user + system) this process has used, all threads.
double selfCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// CPU ms (utime + stime, /proc/PID/stat; clock-tick resolution) of each pid.
std::map<pid_t, double> processCpuMs(const std::vector<pid_t>& pids) {
  std::map<pid_t, double> out;
  const double tickMs = 1e3 / double(sysconf(_SC_CLK_TCK));
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {  // field 3 is the state
      if (i == 14) utime = std::stod(field);
      if (i == 15) {
        stime = std::stod(field);
        break;
      }
    }
    out[pid] = (utime + stime) * tickMs;
  }
  return out;
}

struct RoundTime {
  double wallMs, cpuMs;  // cpu: this process plus, through a pool, its workers
};

// One slice's conversion (slice index -> output bytes).
using Convert = std::function<size_t(size_t slice)>;

Convert through(const router::Transcoder& transcoder, const std::vector<std::string>& slices, const char* target) {
  return [&transcoder, &slices, target](size_t i) { return transcoder.transcode(slices[i], target).size(); };
}

// Converts `count` slices with `threads` threads, each taking the next slice
// until none is left. CPU time counts this process and the pool's workers
// (when pool is given): on a shared machine it moves less than wall time
// with other people's load. With perImageMs (single-threaded only), also
// each conversion's wall ms.
RoundTime runRound(const Convert& convert, size_t count, int threads, std::vector<double>* perImageMs = nullptr,
                   const router::WorkerPool* pool = nullptr) {
  std::atomic<size_t> next{0};
  std::atomic<size_t> outputBytes{0};
  std::exception_ptr failure;
  std::mutex failureMutex;
  auto work = [&] {
    try {
      for (size_t i = next++; i < count; i = next++) {
        const auto start = Clock::now();
        const size_t out = convert(i);
        if (perImageMs) perImageMs->push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        outputBytes += out;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failureMutex);
      if (!failure) failure = std::current_exception();
      next = count;
    }
  };
  const std::map<pid_t, double> workersBefore = pool ? processCpuMs(pool->pids()) : std::map<pid_t, double>{};
  const double cpuBefore = selfCpuMs();
  const auto start = Clock::now();
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) running.emplace_back(work);
    for (std::thread& t : running) t.join();
  }
  RoundTime time{std::chrono::duration<double, std::milli>(Clock::now() - start).count(), selfCpuMs() - cpuBefore};
  if (pool)
    for (const auto& [pid, ms] : processCpuMs(pool->pids())) {
      auto before = workersBefore.find(pid);  // a replaced worker counts from its start
      time.cpuMs += ms - (before == workersBefore.end() ? 0.0 : before->second);
    }
  if (failure) std::rethrow_exception(failure);
  benchmark::DoNotOptimize(outputBytes.load());
  return time;
}

struct Comparison {
  std::vector<double> inProcessMs, poolMs, rawMs;                 // wall ms per round
  std::vector<double> inProcessCpuMs, poolCpuMs, rawCpuMs;        // CPU ms per round
  std::vector<double> inProcessImageMs, poolImageMs, rawImageMs;  // per conversion (single-threaded runs)
  double ratio() const { return median(poolMs) / median(inProcessMs); }
  double cpuRatio() const { return median(poolCpuMs) / median(inProcessCpuMs); }
};

// rounds x ([raw round,] in-process round, pool round), in that order.
// raw: the codec alone on the same slices' pixels, no file around them.
Comparison interleave(const router::Transcoder& inProcess, const router::WorkerPool& pool,
                      const std::vector<std::string>& slices, const char* target, int threads, int rounds,
                      bool perImage, const Convert* raw = nullptr) {
  Comparison c;
  for (int r = 0; r < rounds; ++r) {
    if (raw) {
      const RoundTime codec = runRound(*raw, slices.size(), threads, perImage ? &c.rawImageMs : nullptr);
      c.rawMs.push_back(codec.wallMs);
      c.rawCpuMs.push_back(codec.cpuMs);
    }
    const RoundTime in =
        runRound(through(inProcess, slices, target), slices.size(), threads, perImage ? &c.inProcessImageMs : nullptr);
    const RoundTime out = runRound(through(pool, slices, target), slices.size(), threads,
                                   perImage ? &c.poolImageMs : nullptr, &pool);
    c.inProcessMs.push_back(in.wallMs);
    c.inProcessCpuMs.push_back(in.cpuMs);
    c.poolMs.push_back(out.wallMs);
    c.poolCpuMs.push_back(out.cpuMs);
  }
  return c;
}

// Lowest..highest of over[r] / under[r] across the rounds.
std::string ratioRange(const std::vector<double>& over, const std::vector<double>& under) {
  double lo = 1e9, hi = 0;
  for (size_t r = 0; r < over.size() && r < under.size(); ++r) {
    lo = std::min(lo, over[r] / under[r]);
    hi = std::max(hi, over[r] / under[r]);
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.3f..%.3f", lo, hi);
  return text;
}

void runWorkerComparison(const std::string& workerExecutable, int slicesCount, int rounds) {
  constexpr int kThreads = 2;  // the appliance's Threads on this 2-core machine
  std::printf("\ntranscoder workers vs in process: generating %d CT slices ...\n", slicesCount);
  std::fflush(stdout);
  std::vector<std::string> slices;
  for (const td::ImageSpec& spec : td::ctSeries(slicesCount, 300, kRows, kColumns))
    slices.push_back(td::makeInstance(spec));
  double inputMb = 0;
  for (const std::string& s : slices) inputMb += double(s.size()) / kMiB;
  // The same slices' pixels for raw CharLS, read back with DCMTK.
  std::vector<std::vector<int16_t>> pixels;
  for (const std::string& s : slices) pixels.push_back(pixelsOfPart10(s));
  const Convert rawCharls = [&pixels](size_t i) { return charlsEncode(pixels[i], 0).size(); };

  router::WorkerPoolOptions options;
  options.executable = workerExecutable;
  options.workers = kThreads;
  options.warn = [](const std::string& m) { std::fprintf(stderr, "transcode_bench: worker pool: %s\n", m.c_str()); };
  router::WorkerPool pool(options);
  pool.start();
  const router::Transcoder& inProcess = *gTranscoder;

  // Warm-up (not counted): page cache, allocators, both workers' first
  // images; and the check that both paths give the same bytes.
  const std::vector<std::string> warm(slices.begin(), slices.begin() + std::min<size_t>(slices.size(), 8));
  runRound(through(inProcess, warm, router::ts::kJPEGLSLossless), warm.size(), kThreads);
  runRound(through(pool, warm, router::ts::kJPEGLSLossless), warm.size(), kThreads);
  const std::string first = pool.transcode(slices.front(), router::ts::kJPEGLSLossless);
  const bool identical = first == inProcess.transcode(slices.front(), router::ts::kJPEGLSLossless);
  // Raw CharLS codes what the transcoder codes: its stream is the fragment.
  const bool rawInside = first.find(charlsEncode(pixels.front(), 0)) != std::string::npos;

  std::printf("transcoder workers vs in process: %d rounds x 2 paths x 4 cases (and raw CharLS in one) ...\n",
              rounds);
  std::fflush(stdout);
  const Comparison jls2 =
      interleave(inProcess, pool, slices, router::ts::kJPEGLSLossless, kThreads, rounds, false);
  const Comparison jls1 =
      interleave(inProcess, pool, slices, router::ts::kJPEGLSLossless, 1, rounds, true, &rawCharls);
  const Comparison same =
      interleave(inProcess, pool, slices, router::ts::kExplicitVRLittleEndian, 1, rounds, true);
  const Comparison implicit =
      interleave(inProcess, pool, slices, router::ts::kImplicitVRLittleEndian, 1, rounds, true);
  const std::string lockdown = pool.lockdown();
  const uint64_t replacements = pool.replacements();
  pool.stop();

  const double n = double(slices.size());
  std::printf("\n==== transcoder workers vs in process (%d x 512x512 16-bit CT, %.0f MB; %d interleaved rounds each) ====\n",
              slicesCount, inputMb, rounds);
  std::printf("pool: WorkerPool, %d x %s; in process: makeTranscoder(), one object shared by the threads\n",
              kThreads, fs::path(workerExecutable).filename().c_str());
  std::printf("workers' lockdown: %s\n", lockdown.c_str());
  std::printf("JPEGLSLossless output identical on both paths: %s; workers replaced during the run: %llu\n",
              identical ? "yes" : "NO", static_cast<unsigned long long>(replacements));
  std::printf("%-34s %13s %9s %8s %8s %12s %14s %9s\n", "JPEGLSLossless, median wall", "in-process s", "pool s",
              "pool/in", "added", "added ms/img", "ratio per round", "CPU p/in");
  const struct {
    const char* label;
    const Comparison& c;
  } jls[] = {{"2 threads (appliance default)", jls2}, {"1 thread", jls1}};
  for (const auto& row : jls) {
    const double in = median(row.c.inProcessMs), out = median(row.c.poolMs);
    std::printf("%-34s %13.2f %9.2f %7.3fx %7.1f%% %12.2f %14s %8.3fx\n", row.label, in / 1e3, out / 1e3, out / in,
                (out / in - 1) * 100, (out - in) / n, ratioRange(row.c.poolMs, row.c.inProcessMs).c_str(), row.c.cpuRatio());
  }
  std::printf("  (CPU p/in: median CPU s per round, pool = this process + its workers, over in process;\n"
              "   it moves less than wall time when other work shares the cores)\n");

  // What the file around the pixels costs: the whole conversion of a slice
  // (parse, checks, encapsulation, Part-10 output; in a worker also the
  // memfd boundary) against CharLS alone on the same pixels, same settings.
  const double raw = median(jls1.rawImageMs), rawCpu = median(jls1.rawCpuMs) / n;
  std::printf("\n%-44s %11s %8s %13s %8s %15s\n", "JPEGLSLossless per slice vs raw CharLS, 1 thread", "median ms",
              "vs raw", "CPU ms/slice", "vs raw", "ratio per round");
  std::printf("%-44s %11.2f %7.3fx %13.2f %7.3fx %15s\n", "raw CharLS 2.4 (jpegls_encoder, same pixels)", raw, 1.0,
              rawCpu, 1.0, "-");
  const struct {
    const char* label;
    const std::vector<double>&imageMs, &roundMs, &cpuMs;
  } whole[] = {{"whole conversion in process", jls1.inProcessImageMs, jls1.inProcessMs, jls1.inProcessCpuMs},
               {"whole conversion in a worker (pool)", jls1.poolImageMs, jls1.poolMs, jls1.poolCpuMs}};
  for (const auto& row : whole) {
    const double ms = median(row.imageMs), cpu = median(row.cpuMs) / n;
    std::printf("%-44s %11.2f %7.3fx %13.2f %7.3fx %15s\n", row.label, ms, ms / raw, cpu, cpu / rawCpu,
                ratioRange(row.roundMs, jls1.rawMs).c_str());
  }
  std::printf("  (rounds interleaved raw, in process, pool; median ms of the %zu conversions per path; CPU: median\n"
              "   per round / slices, the pool's with its workers; raw CharLS's stream is inside our output: %s)\n",
              jls1.rawImageMs.size(), rawInside ? "yes" : "NO");
  std::printf("\n%-46s %13s %9s %12s %13s\n", "boundary (no codec), 1 thread, median per image", "in-process ms",
              "pool ms", "boundary ms", "CPU ms/image");
  const struct {
    const char* label;
    const Comparison& c;
  } boundary[] = {{"Explicit -> Explicit (input handed back)", same},
                  {"Explicit -> Implicit (dataset re-encoded)", implicit}};
  for (const auto& row : boundary) {
    const double in = median(row.c.inProcessImageMs), out = median(row.c.poolImageMs);
    std::printf("%-46s %13.3f %9.3f %12.3f %13.3f\n", row.label, in, out, out - in,
                (median(row.c.poolCpuMs) - median(row.c.inProcessCpuMs)) / n);
  }
  std::printf("  (boundary ms: wall, pool minus in process; it includes waiting for a core when the worker\n"
              "   wakes up, so it grows with other load. CPU ms/image: the CPU the boundary adds, both sides,\n"
              "   from median CPU per round / images)\n");
  std::printf("  (%zu conversions per path; cross-check from median round wall time / images, pool minus in process:\n"
              "   Explicit->Explicit %.3f ms/img, Explicit->Implicit %.3f ms/img)\n",
              same.poolImageMs.size(), (median(same.poolMs) - median(same.inProcessMs)) / n,
              (median(implicit.poolMs) - median(implicit.inProcessMs)) / n);

  // One line per figure, for ./appliance bench's summary.
  const double in2 = median(jls2.inProcessMs), in1 = median(jls1.inProcessMs);
  std::printf("\nworkers: JPEGLSLossless 2 threads pool/in-process %.3fx (%+.1f %% added; target <= 5 %%), "
              "median of %d: %.2f s vs %.2f s; CPU %.3fx\n",
              jls2.ratio(), (jls2.ratio() - 1) * 100, rounds, median(jls2.poolMs) / 1e3, in2 / 1e3, jls2.cpuRatio());
  std::printf("workers: JPEGLSLossless 1 thread  pool/in-process %.3fx (%+.1f %% added; target <= 5 %%), "
              "median of %d: %.2f s vs %.2f s; CPU %.3fx\n",
              jls1.ratio(), (jls1.ratio() - 1) * 100, rounds, median(jls1.poolMs) / 1e3, in1 / 1e3, jls1.cpuRatio());
  std::printf("workers: JPEGLSLossless whole conversion per slice / raw CharLS encode %.3fx in a worker, %.3fx in "
              "process (median ms %.2f, %.2f vs %.2f; CPU %.3fx, %.3fx)\n",
              median(jls1.poolImageMs) / raw, median(jls1.inProcessImageMs) / raw, median(jls1.poolImageMs),
              median(jls1.inProcessImageMs), raw, median(jls1.poolCpuMs) / n / rawCpu,
              median(jls1.inProcessCpuMs) / n / rawCpu);
  const double boundaryMs = median(same.poolImageMs) - median(same.inProcessImageMs);
  std::printf("workers: boundary per image %.3f ms (Explicit->Explicit, no codec, pool minus in process, median of "
              "%zu), %.1f %% of an in-process JPEG-LS image (%.2f ms)\n",
              boundaryMs, same.poolImageMs.size(), boundaryMs / (in1 / n) * 100, in1 / n);
  std::printf("workers: boundary per image %.3f ms with the dataset re-encoded (Explicit->Implicit)\n",
              median(implicit.poolImageMs) - median(implicit.inProcessImageMs));
  std::printf("workers: boundary CPU per image %.3f ms (Explicit->Explicit, both processes, median CPU per round)\n",
              (median(same.poolCpuMs) - median(same.inProcessCpuMs)) / n);
}

}  // namespace

int main(int argc, char** argv) {
  int cliRuns = 10;
  bool cli = true;
  bool workers = true;
  int poolRounds = 5, poolSlices = 300;
  std::string workerExecutable = ROUTER_BENCH_WORKER;
  std::string workdir = (fs::temp_directory_path() / ("transcode-bench-" + std::to_string(getpid()))).string();
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cli-runs" && i + 1 < argc) {
      cliRuns = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--no-cli") {
      cli = false;
    } else if (a == "--workdir" && i + 1 < argc) {
      workdir = argv[++i];
    } else if (a == "--pool-rounds" && i + 1 < argc) {
      poolRounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--pool-slices" && i + 1 < argc) {
      poolSlices = std::max(8, std::atoi(argv[++i]));
    } else if (a == "--worker" && i + 1 < argc) {
      workerExecutable = argv[++i];
    } else if (a == "--no-pool") {
      workers = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int restCount = int(rest.size());
  benchmark::Initialize(&restCount, rest.data());
  gdcm::Trace::WarningOff();
  try {
    gTranscoder = router::makeTranscoder();
    makeImages(workdir);
    registerAll();
    RecordingReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::map<std::string, std::vector<CliResult>> cliResults;
    if (cli)
      for (const TestImage& image : gImages) cliResults[image.name] = runCli(image, workdir, cliRuns);
    printSummary(reporter.msPerImage, cliResults, cliRuns);
    if (workers) runWorkerComparison(workerExecutable, poolSlices, poolRounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transcode_bench: %s\n", e.what());
    fs::remove_all(workdir);
    return 1;
  }
  fs::remove_all(workdir);
  benchmark::Shutdown();
  return 0;
}
