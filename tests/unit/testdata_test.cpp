// Tests of the test-data generator (tests/generator): every file it makes is
// read back with DCMTK and checked by dcmdump/dsrdump (real binaries), pixels
// match expectedPixels(), and the router-testdata CLI writes what it prints.
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"

#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

namespace router::testdata {
// Test names and failure messages show the case's name, not its bytes.
void PrintTo(const ImageSpec& spec, std::ostream* out) { *out << spec.name; }
}  // namespace router::testdata

namespace fs = std::filesystem;
using router::testdata::ImageSpec;

namespace {

using router::testdata::TempDir;
using router::testdata::RunResult;
using router::testdata::run;




std::string quote(const fs::path& path) { return "'" + path.string() + "'"; }

// dcmtk tools report problems as lines starting with "W: " or "E: ".
bool hasDiagnostics(const std::string& output) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("W: ", 0) == 0 || line.rfind("E: ", 0) == 0) return true;
  }
  return false;
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string str(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  item.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

long num(DcmItem& item, const DcmTagKey& tag) {
  Uint16 value = 0;
  if (item.findAndGetUint16(tag, value).good()) return value;
  Sint32 is = 0;
  item.findAndGetSint32(tag, is);
  return is;
}

// PixelData as it is in the file: little-endian bytes whatever the host.
std::vector<uint8_t> pixelBytes(DcmDataset& ds) {
  DcmElement* element = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, element).bad()) return {};
  std::vector<uint8_t> bytes;
  if (element->getVR() == EVR_OW) {
    Uint16* words = nullptr;
    element->getUint16Array(words);
    for (Uint32 i = 0; i < element->getLength() / 2; ++i) {
      bytes.push_back(uint8_t(words[i] & 0xFF));
      bytes.push_back(uint8_t(words[i] >> 8));
    }
  } else {
    Uint8* data = nullptr;
    element->getUint8Array(data);
    bytes.assign(data, data + element->getLength());
  }
  return bytes;
}

// Digits and dots, no empty component, no leading zero, at most 64 characters.
bool isValidUid(const std::string& uid) {
  static const std::regex pattern("^(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))*$");
  return uid.size() <= 64 && std::regex_match(uid, pattern);
}

// What each case of the standard suite must be, as a reader of the file sees it.
struct Expected {
  const char* sopClass;
  int bitsAllocated, bitsStored, pixelRepresentation, samplesPerPixel, frames;
};

const std::map<std::string, Expected>& expectedSuite() {
  static const std::map<std::string, Expected> cases = {
      {"ct-s16", {UID_CTImageStorage, 16, 16, 1, 1, 1}},
      {"ct-u16", {UID_CTImageStorage, 16, 16, 0, 1, 1}},
      {"ct-12in16", {UID_CTImageStorage, 16, 12, 0, 1, 1}},
      {"mr-s16", {UID_MRImageStorage, 16, 16, 1, 1, 1}},
      {"sc-mono8", {UID_SecondaryCaptureImageStorage, 8, 8, 0, 1, 1}},
      {"sc-rgb-planar0", {UID_SecondaryCaptureImageStorage, 8, 8, 0, 3, 1}},
      {"sc-rgb-planar1", {UID_SecondaryCaptureImageStorage, 8, 8, 0, 3, 1}},
      {"mf-gray16", {UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage, 16, 16, 0, 1, 5}},
      {"mf-rgb", {UID_MultiframeTrueColorSecondaryCaptureImageStorage, 8, 8, 0, 3, 3}},
      {"ct-odd", {UID_CTImageStorage, 16, 16, 1, 1, 1}},
      {"sc-mono8-odd", {UID_SecondaryCaptureImageStorage, 8, 8, 0, 1, 1}},
      {"sc-rgb-odd", {UID_SecondaryCaptureImageStorage, 8, 8, 0, 3, 1}},
      {"sr-text", {UID_BasicTextSRStorage, 0, 0, 0, 0, 0}},
      {"sr-dose", {UID_XRayRadiationDoseSRStorage, 0, 0, 0, 0, 0}},
  };
  return cases;
}

// Stored values as integers (sign-extended from BitsStored when signed).
std::vector<long> samples(const ImageSpec& s, const std::vector<uint8_t>& bytes) {
  std::vector<long> values;
  const std::size_t count = router::testdata::pixelByteCount(s) / (s.bitsAllocated / 8);
  for (std::size_t i = 0; i < count; ++i) {
    long v = s.bitsAllocated == 8 ? bytes[i] : long(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    if (s.signedPixels && (v & (1L << (s.bitsStored - 1)))) v -= 1L << s.bitsStored;
    values.push_back(v);
  }
  return values;
}

class TestDataCase : public ::testing::TestWithParam<ImageSpec> {};

TEST_P(TestDataCase, FileReadsBackWithExpectedAttributesAndPixels) {
  const ImageSpec& spec = GetParam();
  const auto expected = expectedSuite().find(spec.name);
  ASSERT_NE(expected, expectedSuite().end()) << "no expectation for " << spec.name;
  const Expected& e = expected->second;

  TempDir dir;
  const fs::path file = dir.path() / (spec.name + ".dcm");
  const std::string bytes = router::testdata::makeInstance(spec);
  ASSERT_GT(bytes.size(), 132u);
  EXPECT_EQ(bytes.substr(128, 4), "DICM");
  writeFile(file, bytes);

  DcmFileFormat ff;
  ASSERT_TRUE(ff.loadFile(file.c_str()).good());
  DcmDataset& ds = *ff.getDataset();
  DcmMetaInfo& meta = *ff.getMetaInfo();
  const ImageSpec id = router::testdata::withIdentity(spec);

  EXPECT_EQ(str(meta, DCM_TransferSyntaxUID), UID_LittleEndianExplicitTransferSyntax);
  EXPECT_EQ(str(meta, DCM_MediaStorageSOPClassUID), e.sopClass);
  EXPECT_EQ(str(meta, DCM_MediaStorageSOPInstanceUID), id.sopInstanceUid);
  EXPECT_EQ(str(ds, DCM_SOPClassUID), e.sopClass);
  EXPECT_EQ(str(ds, DCM_SOPInstanceUID), id.sopInstanceUid);
  EXPECT_EQ(str(ds, DCM_StudyInstanceUID), id.studyInstanceUid);
  EXPECT_EQ(str(ds, DCM_SeriesInstanceUID), id.seriesInstanceUid);
  for (const std::string& uid : {id.sopInstanceUid, id.studyInstanceUid, id.seriesInstanceUid}) {
    EXPECT_TRUE(isValidUid(uid)) << uid;
  }
  EXPECT_EQ(str(ds, DCM_Modality), spec.noPixelData ? "SR" : spec.modality);
  EXPECT_EQ(str(ds, DCM_PatientID), id.patientId);
  EXPECT_EQ(str(ds, DCM_PatientName), id.patientName);
  EXPECT_EQ(str(ds, DCM_AccessionNumber), id.accessionNumber);
  EXPECT_EQ(num(ds, DCM_InstanceNumber), spec.instanceNumber);

  if (spec.noPixelData) {
    EXPECT_FALSE(ds.tagExists(DCM_PixelData));
    EXPECT_EQ(str(ds, DCM_ValueType), "CONTAINER");
    EXPECT_TRUE(ds.tagExists(DCM_ContentSequence));
    const RunResult sr = run("dsrdump " + quote(file));
    EXPECT_EQ(sr.exitCode, 0) << sr.output;
    EXPECT_FALSE(hasDiagnostics(sr.output)) << sr.output;
  } else {
    EXPECT_EQ(num(ds, DCM_Rows), spec.rows);
    EXPECT_EQ(num(ds, DCM_Columns), spec.columns);
    EXPECT_EQ(num(ds, DCM_BitsAllocated), e.bitsAllocated);
    EXPECT_EQ(num(ds, DCM_BitsStored), e.bitsStored);
    EXPECT_EQ(num(ds, DCM_HighBit), e.bitsStored - 1);
    EXPECT_EQ(num(ds, DCM_PixelRepresentation), e.pixelRepresentation);
    EXPECT_EQ(num(ds, DCM_SamplesPerPixel), e.samplesPerPixel);
    EXPECT_EQ(str(ds, DCM_PhotometricInterpretation), e.samplesPerPixel == 3 ? "RGB" : "MONOCHROME2");
    if (e.samplesPerPixel == 3) {
      EXPECT_EQ(num(ds, DCM_PlanarConfiguration), spec.planarConfiguration);
    }
    if (e.frames > 1) {
      EXPECT_EQ(num(ds, DCM_NumberOfFrames), e.frames);
      EXPECT_TRUE(ds.tagExists(DCM_FrameIncrementPointer));
    }
    EXPECT_FALSE(str(ds, DCM_PixelSpacing).empty());
    if (spec.modality == "CT") {
      EXPECT_FALSE(str(ds, DCM_RescaleIntercept).empty());
      EXPECT_EQ(str(ds, DCM_RescaleSlope), "1");
      EXPECT_EQ(str(ds, DCM_WindowCenter), "40");
    }

    const std::vector<uint8_t> pixels = pixelBytes(ds);
    const std::vector<uint8_t> want = router::testdata::expectedPixels(spec);
    const std::size_t imageBytes = router::testdata::pixelByteCount(spec);
    EXPECT_EQ(imageBytes, std::size_t(spec.rows) * spec.columns * e.samplesPerPixel * (e.bitsAllocated / 8) *
                              e.frames);
    EXPECT_EQ(want.size(), imageBytes + imageBytes % 2);
    ASSERT_EQ(pixels.size(), want.size());
    EXPECT_TRUE(pixels == want) << "PixelData differs from expectedPixels()";

    // Content that makes a codec work: many distinct values, both ends of the
    // stored range, and nothing above HighBit.
    const std::vector<long> values = samples(spec, pixels);
    const std::set<long> distinct(values.begin(), values.end());
    EXPECT_GT(distinct.size(), 200u);
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    if (spec.signedPixels && spec.modality == "CT") {
      EXPECT_EQ(*lo, -1024);
      EXPECT_EQ(*hi, 3071);
    } else if (spec.signedPixels) {
      EXPECT_EQ(*lo, -(1L << (e.bitsStored - 1)));
      EXPECT_EQ(*hi, (1L << (e.bitsStored - 1)) - 1);
    } else {
      EXPECT_EQ(*lo, 0);
      EXPECT_EQ(*hi, (1L << e.bitsStored) - 1);
    }
    if (e.bitsAllocated == 16 && e.bitsStored < 16) {
      for (std::size_t i = 1; i < imageBytes; i += 2) ASSERT_EQ(pixels[i] >> (e.bitsStored - 8), 0) << i;
    }
    if (e.frames > 1) {
      const std::size_t frameBytes = imageBytes / e.frames;
      EXPECT_FALSE(std::equal(pixels.begin(), pixels.begin() + frameBytes, pixels.begin() + frameBytes));
    }
  }

  const RunResult dump = run("dcmdump " + quote(file));
  EXPECT_EQ(dump.exitCode, 0) << dump.output;
  EXPECT_FALSE(hasDiagnostics(dump.output)) << dump.output;
  EXPECT_NE(dump.output.find("(0008,0018) UI [" + id.sopInstanceUid + "]"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(StandardSuite, TestDataCase, ::testing::ValuesIn(router::testdata::standardSuite()),
                         [](const ::testing::TestParamInfo<ImageSpec>& param) {
                           std::string name = param.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(TestDataSuite, CoversEveryExpectedCaseWithDistinctInstances) {
  std::set<std::string> names, sopUids;
  for (const ImageSpec& spec : router::testdata::standardSuite()) {
    names.insert(spec.name);
    sopUids.insert(router::testdata::withIdentity(spec).sopInstanceUid);
  }
  EXPECT_EQ(names.size(), expectedSuite().size());
  for (const auto& [name, expected] : expectedSuite()) EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(sopUids.size(), names.size());
}

TEST(TestDataGenerator, IsDeterministicAndTheSeedChangesUidsAndPixels) {
  ImageSpec a;
  a.name = "det";
  a.signedPixels = true;
  ImageSpec b = a;
  b.seed = 2;
  EXPECT_EQ(router::testdata::makeInstance(a), router::testdata::makeInstance(a));
  EXPECT_NE(router::testdata::expectedPixels(a), router::testdata::expectedPixels(b));
  const ImageSpec ia = router::testdata::withIdentity(a), ib = router::testdata::withIdentity(b);
  EXPECT_NE(ia.sopInstanceUid, ib.sopInstanceUid);
  EXPECT_NE(ia.studyInstanceUid, ib.studyInstanceUid);
  EXPECT_NE(ia.seriesInstanceUid, ib.seriesInstanceUid);
}

TEST(TestDataGenerator, PlanarConfigurationOnlyReordersTheSamples) {
  ImageSpec planar1;
  planar1.name = "rgb";
  planar1.bitsAllocated = planar1.bitsStored = 8;
  planar1.samplesPerPixel = 3;
  planar1.photometric = "RGB";
  planar1.rows = 7;
  planar1.columns = 5;
  planar1.frames = 2;
  planar1.planarConfiguration = 1;
  ImageSpec planar0 = planar1;
  planar0.planarConfiguration = 0;
  const auto separate = router::testdata::expectedPixels(planar1);
  const auto interleaved = router::testdata::expectedPixels(planar0);
  ASSERT_EQ(separate.size(), interleaved.size());
  const std::size_t pixels = 7 * 5, frameBytes = pixels * 3;
  for (std::size_t f = 0; f < 2; ++f) {
    for (std::size_t p = 0; p < pixels; ++p) {
      for (std::size_t c = 0; c < 3; ++c) {
        ASSERT_EQ(separate[f * frameBytes + c * pixels + p], interleaved[f * frameBytes + p * 3 + c]);
      }
    }
  }
}

TEST(TestDataGenerator, KeepsGivenIdentityAndRejectsBadSpecs) {
  ImageSpec s;
  s.name = "given";
  s.patientId = "P42";
  s.sopInstanceUid = "1.2.3.4";
  s.institutionName = "Site B";
  const ImageSpec id = router::testdata::withIdentity(s);
  EXPECT_EQ(id.patientId, "P42");
  EXPECT_EQ(id.sopInstanceUid, "1.2.3.4");
  EXPECT_EQ(id.institutionName, "Site B");

  ImageSpec bad;
  bad.bitsAllocated = 12;
  EXPECT_ANY_THROW(router::testdata::makeInstance(bad));
  bad = ImageSpec{};
  bad.rows = 0;
  EXPECT_ANY_THROW(router::testdata::makeInstance(bad));
}

TEST(TestDataCtSeries, SharesStudyAndSeriesWithDistinctInstances) {
  const auto series = router::testdata::ctSeries(5, 77, 24, 20);
  ASSERT_EQ(series.size(), 5u);
  TempDir dir;
  std::set<std::string> studies, seriesUids, frames, sops;
  std::set<std::vector<uint8_t>> pixelSets;
  double lastZ = -1e9;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const fs::path file = dir.path() / ("slice" + std::to_string(i) + ".dcm");
    writeFile(file, router::testdata::makeInstance(series[i]));
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(file.c_str()).good());
    DcmDataset& ds = *ff.getDataset();
    EXPECT_EQ(str(ds, DCM_SOPClassUID), UID_CTImageStorage);
    EXPECT_EQ(num(ds, DCM_InstanceNumber), long(i + 1));
    EXPECT_EQ(num(ds, DCM_Rows), 24);
    EXPECT_EQ(num(ds, DCM_Columns), 20);
    EXPECT_EQ(num(ds, DCM_PixelRepresentation), 1);
    studies.insert(str(ds, DCM_StudyInstanceUID));
    seriesUids.insert(str(ds, DCM_SeriesInstanceUID));
    frames.insert(str(ds, DCM_FrameOfReferenceUID));
    sops.insert(str(ds, DCM_SOPInstanceUID));
    EXPECT_TRUE(isValidUid(str(ds, DCM_SOPInstanceUID)));
    Float64 z = 0;
    ASSERT_TRUE(ds.findAndGetFloat64(DCM_ImagePositionPatient, z, 2).good());
    EXPECT_GT(z, lastZ);
    lastZ = z;
    pixelSets.insert(pixelBytes(ds));
  }
  EXPECT_EQ(studies.size(), 1u);
  EXPECT_EQ(seriesUids.size(), 1u);
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_EQ(sops.size(), 5u);
  EXPECT_EQ(pixelSets.size(), 5u);

  const auto other = router::testdata::ctSeries(1, 78, 24, 20);
  EXPECT_NE(router::testdata::withIdentity(other[0]).seriesInstanceUid, *seriesUids.begin());
}

// The CLI lives next to this test in the build tree; a partial build (only
// this target) may not have it, which is reported as a skip, not a pass.
fs::path cliPath() { return fs::path(ROUTER_BINARY_DIR) / "tests" / "generator" / "router-testdata"; }

// "<path> <uid>" lines -> uid by path.
std::map<std::string, std::string> parseListing(const std::string& output) {
  std::map<std::string, std::string> files;
  std::istringstream lines(output);
  std::string path, uid;
  while (lines >> path >> uid) files[path] = uid;
  return files;
}

TEST(TestDataCli, StandardSuiteWritesEveryFileItPrints) {
  if (!fs::exists(cliPath())) GTEST_SKIP() << "router-testdata not built: " << cliPath();
  TempDir dir;
  const RunResult r = run(quote(cliPath()) + " " + quote(dir.path() / "out") + " --suite standard --seed 5");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  const auto files = parseListing(r.output);
  EXPECT_EQ(files.size(), router::testdata::standardSuite().size());
  for (const auto& [path, uid] : files) {
    DcmFileFormat ff;
    ASSERT_TRUE(ff.loadFile(path.c_str()).good()) << path;
    EXPECT_EQ(str(*ff.getDataset(), DCM_SOPInstanceUID), uid);
    EXPECT_TRUE(isValidUid(uid)) << uid;
  }
}

TEST(TestDataCli, CtSeriesHonoursOptionsAndSeedsGiveFreshUids) {
  if (!fs::exists(cliPath())) GTEST_SKIP() << "router-testdata not built: " << cliPath();
  TempDir dir;
  const std::string base = quote(cliPath()) + " " + quote(dir.path()) +
                           " --suite ct-series --count 3 --rows 16 --columns 18 --patient-id PX1"
                           " --patient-name Doe^Jane --calling-site 'Site A'";
  const RunResult first = run(base + " --seed 11");
  const RunResult second = run(base + " --seed 12");
  ASSERT_EQ(first.exitCode, 0) << first.output;
  ASSERT_EQ(second.exitCode, 0) << second.output;
  const auto a = parseListing(first.output), b = parseListing(second.output);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  std::set<std::string> uids, series;
  for (const auto* listing : {&a, &b}) {
    for (const auto& [path, uid] : *listing) {
      uids.insert(uid);
      DcmFileFormat ff;
      ASSERT_TRUE(ff.loadFile(path.c_str()).good()) << path;
      DcmDataset& ds = *ff.getDataset();
      EXPECT_EQ(str(ds, DCM_PatientID), "PX1");
      EXPECT_EQ(str(ds, DCM_PatientName), "Doe^Jane");
      EXPECT_EQ(str(ds, DCM_InstitutionName), "Site A");
      EXPECT_EQ(num(ds, DCM_Rows), 16);
      EXPECT_EQ(num(ds, DCM_Columns), 18);
      series.insert(str(ds, DCM_SeriesInstanceUID));
    }
  }
  EXPECT_EQ(uids.size(), 6u);
  EXPECT_EQ(series.size(), 2u);
}

TEST(TestDataCli, RejectsBadArgumentsWithAMessage) {
  if (!fs::exists(cliPath())) GTEST_SKIP() << "router-testdata not built: " << cliPath();
  TempDir dir;
  const std::string cli = quote(cliPath());
  for (const std::string& args : {std::string(""), " " + quote(dir.path()) + " --suite nope",
                                  " " + quote(dir.path()) + " --suite ct-series --count abc",
                                  " " + quote(dir.path()) + " --bogus 1", " " + quote(dir.path()) + " --seed"}) {
    const RunResult r = run(cli + args);
    EXPECT_NE(r.exitCode, 0) << args;
    EXPECT_NE(r.output.find("router-testdata: "), std::string::npos) << args << ": " << r.output;
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
