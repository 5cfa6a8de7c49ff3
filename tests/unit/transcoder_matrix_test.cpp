// Round-trip matrix of the transcoders: every standard test image to every
// transfer syntax the appliance writes. Each result is checked the way a
// receiving PACS would see it: dcmdump reads it without complaint, the meta
// header names the target, and an INDEPENDENT decoder (dcmtk's dcmdjpls,
// dcmdjpeg, dcmdrle, GDCM's gdcmconv --raw, OpenJPEG's opj_decompress for
// HTJ2K, each as a child process) gives
// back exactly the generated pixels (lossless) or pixels within a stated
// error bound (lossy, which also carry the lossy attributes and a new UID).
// Combinations that cannot exist (16-bit JPEG baseline, ...) must be refused
// with TranscodeError.
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/htj2k_support.h"

#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using router::testdata::ImageSpec;

namespace {

using router::testdata::TempDir;
using router::testdata::RunResult;
using router::testdata::run;




void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// What a receiver reads from a (decoded) file, with DCMTK's parser only.
struct Decoded {
  std::string transferSyntax, sopInstanceUid, mediaSopInstanceUid, photometric;
  std::string lossy, lossyRatio, lossyMethod, referencedUid;
  Uint16 planar = 0, pixelRepresentation = 0, bitsAllocated = 0;
  bool hasPixels = false;
  std::vector<uint8_t> pixels;
};

Decoded readDicom(const fs::path& path) {
  Decoded d;
  DcmFileFormat file;
  const OFCondition status = file.loadFile(path.c_str());
  EXPECT_TRUE(status.good()) << path << ": " << status.text();
  if (status.bad()) return d;
  OFString s;
  if (file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, s).good()) d.transferSyntax = s.c_str();
  if (file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, s).good())
    d.mediaSopInstanceUid = s.c_str();
  DcmDataset* ds = file.getDataset();
  auto text = [&](const DcmTagKey& key, std::string& out, unsigned long pos = 0) {
    OFString value;
    if (ds->findAndGetOFStringArray(key, value).good() && pos == 0) out = value.c_str();
  };
  text(DCM_SOPInstanceUID, d.sopInstanceUid);
  text(DCM_PhotometricInterpretation, d.photometric);
  text(DCM_LossyImageCompression, d.lossy);
  text(DCM_LossyImageCompressionRatio, d.lossyRatio);
  text(DCM_LossyImageCompressionMethod, d.lossyMethod);
  ds->findAndGetUint16(DCM_PlanarConfiguration, d.planar);
  ds->findAndGetUint16(DCM_PixelRepresentation, d.pixelRepresentation);
  ds->findAndGetUint16(DCM_BitsAllocated, d.bitsAllocated);
  DcmItem* item = nullptr;
  if (ds->findAndGetSequenceItem(DCM_SourceImageSequence, item, 0).good() && item) {
    if (item->findAndGetOFString(DCM_ReferencedSOPInstanceUID, s).good()) d.referencedUid = s.c_str();
  }
  DcmElement* element = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, element).good() && element) {
    d.hasPixels = true;
    if (element->getVR() == EVR_OW) {
      Uint16* words = nullptr;
      if (element->getUint16Array(words).good() && words) {
        const auto* bytes = reinterpret_cast<const uint8_t*>(words);
        d.pixels.assign(bytes, bytes + element->getLength());
      }
    } else {
      Uint8* bytes = nullptr;
      if (element->getUint8Array(bytes).good() && bytes) d.pixels.assign(bytes, bytes + element->getLength());
    }
  }
  return d;
}

// The command that decodes a file of this syntax to Explicit VR Little
// Endian, out of process and with another library than the encoder's.
bool isHtj2k(const std::string& uid) {
  return uid == router::ts::kHTJ2KLossless || uid == router::ts::kHTJ2KLosslessRPCL || uid == router::ts::kHTJ2K;
}

// HTJ2K, which no DICOM tool here decodes, goes through opj_decompress
// frame by frame instead (htj2k_support.h).
std::string independentDecoder(const std::string& uid) {
  using namespace router::ts;
  if (uid == kJPEGLSLossless || uid == kJPEGLSNearLossless) return "dcmdjpls";
  if (uid == kJPEGBaseline8Bit || uid == kJPEGExtended12Bit || uid == kJPEGLossless || uid == kJPEGLosslessSV1)
    return "dcmdjpeg";
  if (uid == kRLELossless) return "dcmdrle";
  if (uid == kJPEG2000Lossless || uid == kJPEG2000) return "gdcmconv --raw";
  return "";
}

// Signed samples within NEAR of either end of their range (see CharlsFamily).
bool nearSignedLimits(const ImageSpec& spec, int nearLossless) {
  const std::vector<uint8_t> pixels = router::testdata::expectedPixels(spec);
  const long lowest = -(1L << (spec.bitsStored - 1)), highest = (1L << (spec.bitsStored - 1)) - 1;
  const size_t bytes = size_t(spec.bitsAllocated / 8);
  for (size_t i = 0; i + bytes <= router::testdata::pixelByteCount(spec); i += bytes) {
    uint32_t raw = pixels[i] | (bytes == 2 ? uint32_t(pixels[i + 1]) << 8 : 0u);
    const unsigned shift = 32 - unsigned(spec.bitsStored);
    const long value = static_cast<int32_t>(raw << shift) >> shift;
    if (value < lowest + nearLossless || value > highest - nearLossless) return true;
  }
  return false;
}

// Why a combination cannot exist (a word the TranscodeError must contain);
// empty when it must work.
std::string expectedRefusal(const ImageSpec& spec, const std::string& uid) {
  using namespace router::ts;
  if (spec.noPixelData) return "";
  if (uid == kJPEGBaseline8Bit && spec.bitsStored > 8) return "8-bit samples only";
  if (uid == kJPEGExtended12Bit && spec.bitsAllocated > 8) return "8-bit images only";
  if ((uid == kJPEGBaseline8Bit || uid == kJPEGExtended12Bit) && spec.signedPixels) return "unsigned";
  if (uid == kJPEGLSNearLossless && spec.signedPixels && nearSignedLimits(spec, 2)) return "signed range";
  return "";
}

// expected pixels rearranged to the planar configuration of the decoded file.
std::vector<uint8_t> inPlanar(const ImageSpec& spec, std::vector<uint8_t> pixels, int planar) {
  if (spec.samplesPerPixel != 3 || planar == spec.planarConfiguration) return pixels;
  const size_t bytes = size_t(spec.bitsAllocated / 8), count = size_t(spec.rows) * spec.columns;
  std::vector<uint8_t> out(pixels.size(), 0);
  for (int f = 0; f < spec.frames; ++f) {
    const size_t base = size_t(f) * count * 3 * bytes;
    for (size_t p = 0; p < count; ++p)
      for (size_t c = 0; c < 3; ++c)
        for (size_t b = 0; b < bytes; ++b) {
          const size_t interleaved = base + ((p * 3 + c) * bytes) + b;
          const size_t planes = base + ((c * count + p) * bytes) + b;
          if (planar == 1) out[planes] = pixels[interleaved];
          else out[interleaved] = pixels[planes];
        }
  }
  return out;
}

struct ErrorStats {
  double maxAbs = 0;
  double psnr = 1e9;
};

ErrorStats compare(const ImageSpec& spec, const std::vector<uint8_t>& expected, const std::vector<uint8_t>& actual) {
  ErrorStats stats;
  const size_t count = router::testdata::pixelByteCount(spec) / size_t(spec.bitsAllocated / 8);
  double sumSquares = 0;
  for (size_t i = 0; i < count; ++i) {
    double e = 0, a = 0;
    if (spec.bitsAllocated == 8) {
      e = expected[i];
      a = actual[i];
    } else {
      const uint16_t ue = uint16_t(expected[2 * i] | expected[2 * i + 1] << 8);
      const uint16_t ua = uint16_t(actual[2 * i] | actual[2 * i + 1] << 8);
      e = spec.signedPixels ? double(int16_t(ue)) : double(ue);
      a = spec.signedPixels ? double(int16_t(ua)) : double(ua);
    }
    stats.maxAbs = std::max(stats.maxAbs, std::fabs(e - a));
    sumSquares += (e - a) * (e - a);
  }
  const double peak = std::pow(2.0, spec.bitsStored) - 1;
  if (sumSquares > 0) stats.psnr = 10 * std::log10(peak * peak / (sumSquares / double(count)));
  return stats;
}

std::string hasWarnings(const std::string& dump) {
  std::istringstream lines(dump);
  std::string line, found;
  while (std::getline(lines, line))
    if (line.rfind("W: ", 0) == 0 || line.rfind("E: ", 0) == 0) found += line + "\n";
  return found;
}

struct Case {
  ImageSpec spec;
  std::string keyword, uid;
};

std::vector<Case> matrix() {
  std::vector<Case> cases;
  for (const ImageSpec& spec : router::testdata::standardSuite())
    for (const auto& info : router::knownTransferSyntaxes())
      if (info.canEncode) cases.push_back({spec, info.keyword, info.uid});
  return cases;
}

class TranscoderMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(TranscoderMatrix, RoundTripIsExactOrWithinBound) {
  const Case& c = GetParam();
  const ImageSpec spec = router::testdata::withIdentity(c.spec);
  const std::string input = router::testdata::makeInstance(spec);
  const auto transcoder = router::makeTranscoder();
  router::TranscodeOptions options;  // defaults: JPEG q90, J2K ratio 10, NEAR 2

  const std::string refusal = expectedRefusal(spec, c.uid);
  if (!refusal.empty()) {
    try {
      transcoder->transcode(input, c.uid, options);
      FAIL() << spec.name << " -> " << c.keyword << " must be refused";
    } catch (const router::TranscodeError& e) {
      EXPECT_NE(std::string(e.what()).find(refusal), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.keyword), std::string::npos) << e.what();
    }
    return;
  }

  std::string output;
  ASSERT_NO_THROW(output = transcoder->transcode(input, c.uid, options)) << spec.name << " -> " << c.keyword;
  TempDir dir;
  const fs::path encoded = dir.path() / "encoded.dcm";
  const fs::path decoded = dir.path() / "decoded.dcm";
  writeFile(encoded, output);

  const RunResult dump = run("dcmdump " + encoded.string());
  EXPECT_EQ(dump.exitCode, 0) << dump.output;
  EXPECT_EQ(hasWarnings(dump.output), "");

  const Decoded meta = readDicom(encoded);
  EXPECT_EQ(meta.transferSyntax, c.uid);
  EXPECT_EQ(meta.mediaSopInstanceUid, meta.sopInstanceUid);
  if (spec.noPixelData) {
    EXPECT_FALSE(meta.hasPixels);
    EXPECT_EQ(meta.sopInstanceUid, spec.sopInstanceUid);
    return;
  }

  const router::TransferSyntaxInfo* info = router::findTransferSyntax(c.uid);
  fs::path plain = encoded;
  if (const std::string decoder = independentDecoder(c.uid); !decoder.empty()) {
    const RunResult result = run(decoder + " " + encoded.string() + " " + decoded.string());
    ASSERT_EQ(result.exitCode, 0) << decoder << ": " << result.output;
    plain = decoded;
  }
  Decoded image = readDicom(plain);
  if (isHtj2k(c.uid)) {
    if (!router::testdata::htj2k::haveOpjDecompress())
      GTEST_SKIP() << "opj_decompress (Debian: libopenjp2-tools) is not installed: no independent HTJ2K decoder";
    std::string failure;
    image.pixels = router::testdata::htj2k::opjDecodedPixels(encoded, spec.rows, spec.columns, spec.samplesPerPixel,
                                                             spec.bitsAllocated, spec.signedPixels, failure);
    ASSERT_EQ(failure, "");
  }
  ASSERT_GE(image.pixels.size(), router::testdata::pixelByteCount(spec));
  EXPECT_EQ(image.pixelRepresentation, spec.signedPixels ? 1 : 0);
  EXPECT_EQ(image.bitsAllocated, spec.bitsAllocated);
  const std::vector<uint8_t> expected =
      inPlanar(spec, router::testdata::expectedPixels(spec), spec.samplesPerPixel == 3 ? image.planar : 0);
  const ErrorStats error = compare(spec, expected, image.pixels);

  if (!info->lossy) {
    EXPECT_EQ(error.maxAbs, 0) << spec.name << " -> " << c.keyword << " is not pixel-exact";
    EXPECT_EQ(meta.sopInstanceUid, spec.sopInstanceUid);
    EXPECT_EQ(meta.lossy, "");
    EXPECT_EQ(meta.photometric, spec.photometric);
    return;
  }
  // Lossy: the attributes say so, a new instance refers to the original.
  EXPECT_EQ(meta.lossy, "01");
  EXPECT_GT(std::atof(meta.lossyRatio.c_str()), 1.0) << meta.lossyRatio;
  EXPECT_EQ(meta.lossyMethod, c.uid == router::ts::kJPEGLSNearLossless ? "ISO_14495_1"
                              : c.uid == router::ts::kJPEG2000        ? "ISO_15444_1"
                              : c.uid == router::ts::kHTJ2K           ? "ISO_15444_15"
                                                                      : "ISO_10918_1");
  EXPECT_NE(meta.sopInstanceUid, spec.sopInstanceUid);
  EXPECT_EQ(meta.referencedUid, spec.sopInstanceUid);
  if (spec.samplesPerPixel == 3 && c.uid != router::ts::kJPEGLSNearLossless && c.uid != router::ts::kJPEG2000 &&
      c.uid != router::ts::kHTJ2K) {
    EXPECT_EQ(meta.photometric, "YBR_FULL_422");
  }
  // Error bounds: JPEG-LS NEAR=2 is a hard per-sample bound; the others are
  // measured bounds with margin for these synthetic images.
  if (c.uid == router::ts::kJPEGLSNearLossless) {
    EXPECT_LE(error.maxAbs, 2);
  } else {
    // Colour JPEG loses most at the sharp synthetic colour edges (2x2
    // chroma subsampling); J2K at ratio 10 on a 31x33 image likewise.
    EXPECT_GE(error.psnr, spec.samplesPerPixel == 3 ? 22.0 : 30.0) << spec.name << " -> " << c.keyword << " max abs error " << error.maxAbs;
  }
  std::printf("[ lossy    ] %s -> %s: ratio %s, max abs error %.0f, PSNR %.1f dB\n", spec.name.c_str(),
              c.keyword.c_str(), meta.lossyRatio.c_str(), error.maxAbs, error.psnr);
}

INSTANTIATE_TEST_SUITE_P(AllSuiteImages, TranscoderMatrix, ::testing::ValuesIn(matrix()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           std::string name = param.param.spec.name + "_" + param.param.keyword;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
