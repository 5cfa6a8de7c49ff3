// router-testdata: writes generated DICOM files (tests/generator/TestData.h)
// to a folder, for integration tests, benchmarks and manual trials:
//   router-testdata OUTDIR [--suite standard|ct-series|hostile|identifying] [--count N] [--seed S|random]
//       [--patient-id ID] [--patient-name NAME] [--modality MOD] [--calling-site NAME]
//       [--rows R --columns C] [--transfer-syntax KEYWORD|UID]
// --suite identifying writes --count (default 3) slices of one small CT
// series, each carrying every attribute of the de-identification profile
// table at depth 0, 1 and 2 plus private tags (tests/generator/Identifying.h).
// Prints "<path> <SOPInstanceUID>" per file written. --transfer-syntax
// encodes each file with the appliance's own transcoder (in process); a case
// that syntax cannot hold (e.g. palette colour to a lossy one) is left out
// with its reason on stderr.
//
// --suite hostile (only --seed applies) writes OUTDIR/<case>-<seed>.dcm per
// hostile case and prints one line per file, fields separated by one space:
//   <path> <SOPInstanceUID> <expectation> [<TargetKeyword>=<expectation> ...]
// <SOPInstanceUID> is the clean text (no NUL or space padding) the router
// must report; <expectation> is "deliver" (transcoding succeeds, repaired if
// needed; lossless targets are pixel-exact) or "refuse" (transcoding fails
// with a TranscodeError naming the reason), for every target the appliance
// writes unless a TargetKeyword=expectation pair (e.g. JPEGBaseline8Bit=refuse)
// says otherwise for that target. The case name is the file name without
// "-<seed>.dcm".
#include "tests/generator/Identifying.h"
#include "tests/generator/TestData.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

namespace {

constexpr const char* kUsage =
    "usage: router-testdata OUTDIR [--suite standard|ct-series|hostile|identifying] [--count N] [--seed S|random]\n"
    "         [--patient-id ID] [--patient-name NAME] [--modality MOD] [--calling-site NAME]\n"
    "         [--rows R --columns C] [--transfer-syntax KEYWORD|UID]\n"
    "  --suite standard   one file per standard test case (default)\n"
    "  --suite ct-series  --count slices of one series (default 10, 512x512 16-bit signed)\n"
    "  --suite identifying --count slices of one 64x64 CT series (default 3), each with every\n"
    "                     attribute of PS3.15 Table E.1-1 at depth 0, 1, 2 and private tags\n"
    "  --suite hostile    broken and unusual files; prints \"<path> <SOPInstanceUID> <expectation>\n"
    "                     [<TargetKeyword>=<expectation>...]\" (deliver|refuse); only --seed applies\n"
    "  --seed             UIDs and pixels derive from it (default 1); 'random' picks one\n"
    "  --modality         ct-series: the series' modality (default CT);\n"
    "                     standard: keep only the cases of that modality\n"
    "  --calling-site     written as InstitutionName\n"
    "  --transfer-syntax  standard, ct-series: encoded so by the appliance's transcoder\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

long parseNumber(const std::string& option, const std::string& text, long min, long max) {
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < min || value > max) {
    throw UsageError(option + " wants a number in " + std::to_string(min) + ".." + std::to_string(max) +
                     ", got '" + text + "'");
  }
  return value;
}

struct Options {
  std::string outDir, suite = "standard", patientId, patientName, modality, site, transferSyntax;
  std::optional<long> count, rows, columns;
  uint32_t seed = 1;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.outDir.empty()) throw UsageError("more than one OUTDIR: '" + o.outDir + "' and '" + arg + "'");
      o.outDir = arg;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--suite") {
      if (value != "standard" && value != "ct-series" && value != "hostile" && value != "identifying")
        throw UsageError("unknown suite '" + value + "'");
      o.suite = value;
    } else if (arg == "--count") {
      o.count = parseNumber(arg, value, 1, 100000);
    } else if (arg == "--seed") {
      o.seed = value == "random" ? std::random_device{}()
                                 : uint32_t(parseNumber(arg, value, 0, 4294967295L));
    } else if (arg == "--patient-id") {
      o.patientId = value;
    } else if (arg == "--patient-name") {
      o.patientName = value;
    } else if (arg == "--modality") {
      o.modality = value;
    } else if (arg == "--calling-site") {
      o.site = value;
    } else if (arg == "--rows") {
      o.rows = parseNumber(arg, value, 1, 65535);
    } else if (arg == "--columns") {
      o.columns = parseNumber(arg, value, 1, 65535);
    } else if (arg == "--transfer-syntax") {
      std::optional<std::string> uid = router::resolveTransferSyntax(value);
      if (!uid) throw UsageError("unknown transfer syntax '" + value + "'");
      o.transferSyntax = *uid;
    } else {
      throw UsageError("unknown option " + arg);
    }
  }
  if (o.outDir.empty()) throw UsageError("OUTDIR is missing");
  if (o.suite != "ct-series" && (o.rows || o.columns)) {
    throw UsageError("--rows and --columns apply to --suite ct-series only");
  }
  if (o.suite != "ct-series" && o.suite != "identifying" && o.count) {
    throw UsageError("--count applies to --suite ct-series and identifying only");
  }
  if (o.suite == "hostile" && (!o.patientId.empty() || !o.patientName.empty() || !o.modality.empty() ||
                               !o.site.empty() || !o.transferSyntax.empty())) {
    throw UsageError("--suite hostile takes only --seed");
  }
  return o;
}

std::vector<router::testdata::ImageSpec> specsFor(const Options& o) {
  using namespace router::testdata;
  std::vector<ImageSpec> specs;
  if (o.suite == "identifying") {
    specs = ctSeries(int(o.count.value_or(3)), o.seed, 64, 64);
  } else if (o.suite == "ct-series") {
    specs = ctSeries(int(o.count.value_or(10)), o.seed, int(o.rows.value_or(512)), int(o.columns.value_or(512)));
  } else {
    for (ImageSpec& s : standardSuite()) {
      if (o.modality.empty() || s.modality == o.modality) specs.push_back(s);
    }
    if (specs.empty()) throw UsageError("no standard case has modality '" + o.modality + "'");
  }
  for (ImageSpec& s : specs) {
    s.seed = o.seed;
    if (o.suite == "ct-series" && !o.modality.empty()) s.modality = o.modality;
    if (!o.patientId.empty()) s.patientId = o.patientId;
    if (!o.patientName.empty()) s.patientName = o.patientName;
    if (!o.site.empty()) s.institutionName = o.site;
  }
  return specs;
}

void writeFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void writeHostile(const Options& o) {
  for (const auto& c : router::testdata::hostileSuite(o.seed)) {
    const std::filesystem::path path =
        std::filesystem::path(o.outDir) / (c.name + "-" + std::to_string(o.seed) + ".dcm");
    writeFile(path, c.bytes);
    std::cout << path.string() << ' ' << (c.sopInstanceUid.empty() ? "-" : c.sopInstanceUid) << ' ' << c.expectation;
    for (const auto& [target, expectation] : c.exceptions)
      if (expectation != c.expectation) std::cout << ' ' << target << '=' << expectation;
    std::cout << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    std::filesystem::create_directories(o.outDir);
    if (o.suite == "hostile") {
      writeHostile(o);
      return 0;
    }
    const auto transcoder = router::makeTranscoder();
    int index = 0;
    for (const auto& spec : specsFor(o)) {
      ++index;
      std::string bytes = o.suite == "identifying" ? router::testdata::instanceWithEveryRow(spec, true)
                                                   : router::testdata::makeInstance(spec);
      std::string sopInstanceUid = router::testdata::withIdentity(spec).sopInstanceUid;
      if (!o.transferSyntax.empty()) {
        try {
          bytes = transcoder->transcode(bytes, o.transferSyntax);
        } catch (const router::TranscodeError& e) {
          std::cerr << "router-testdata: " << spec.name << " left out: " << e.what() << "\n";
          continue;
        }
        sopInstanceUid = router::testdata::sopInstanceUidOf(bytes);  // a lossy syntax gives a new one
      }
      char number[16];
      std::snprintf(number, sizeof number, "%04d", index);
      const std::string fileName = o.suite != "standard" ? "slice-" + std::to_string(o.seed) + "-" + number
                                                          : spec.name + "-" + std::to_string(o.seed);
      const std::filesystem::path path = std::filesystem::path(o.outDir) / (fileName + ".dcm");
      writeFile(path, bytes);
      std::cout << path.string() << ' ' << sopInstanceUid << '\n';
    }
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "router-testdata: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "router-testdata: " << e.what() << "\n";
    return 1;
  }
}
