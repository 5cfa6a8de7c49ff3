// Transcoder cases outside the matrix: source syntaxes other than explicit
// little endian, chains across codec families, refusals that must not crash
// (1-bit, not DICOM, unknown target), lossy bookkeeping, JPEG-LS
// encapsulation details, dirty high bits, threads, and a rough JPEG-LS speed.
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"

#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using router::TranscodeError;
using router::testdata::ImageSpec;
namespace ts = router::ts;

namespace {

using router::testdata::TempDir;
using router::testdata::RunResult;


int run(const std::string& command, std::string* output = nullptr) {
  RunResult result = router::testdata::run(command);
  if (output) *output = result.output;
  return result.exitCode;
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<uint8_t> pixelsOf(const fs::path& path) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
  return router::testdata::nativePixelBytes(*file.getDataset());
}

std::string tagOf(const fs::path& path, const DcmTagKey& key) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(path.c_str()).good());
  OFString value;
  if (key.getGroup() == 0x0002) file.getMetaInfo()->findAndGetOFStringArray(key, value);
  else file.getDataset()->findAndGetOFStringArray(key, value);
  return value.c_str();
}

// The first pixelByteCount bytes equal: what the generator made.
void expectExact(const ImageSpec& spec, const std::vector<uint8_t>& actual) {
  const std::vector<uint8_t> expected = router::testdata::expectedPixels(spec);
  const size_t n = router::testdata::pixelByteCount(spec);
  ASSERT_GE(actual.size(), n);
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + long(n), actual.begin())) << spec.name;
}

ImageSpec suiteImage(const std::string& name) {
  for (const ImageSpec& s : router::testdata::standardSuite())
    if (s.name == name) return router::testdata::withIdentity(s);
  throw std::runtime_error("no suite image " + name);
}

TEST(TranscoderEdge, OtherSourceSyntaxesDecodeExactly) {
  const auto transcoder = router::makeTranscoder();
  for (const char* name : {"ct-s16", "sc-rgb-planar1", "sc-mono8-odd"}) {
    const ImageSpec spec = suiteImage(name);
    TempDir dir;
    writeFile(dir / "in.dcm", router::testdata::makeInstance(spec));
    for (const char* option : {"+tb", "+ti", "+td"}) {  // big endian, implicit, deflated
      SCOPED_TRACE(std::string(name) + " " + option);
      ASSERT_EQ(run(std::string("dcmconv ") + option + " " + (dir / "in.dcm").string() + " " +
                    (dir / "src.dcm").string()),
                0);
      const std::string output = transcoder->transcode(readFile(dir / "src.dcm"), ts::kJPEGLSLossless);
      writeFile(dir / "ls.dcm", output);
      ASSERT_EQ(run("dcmdjpls " + (dir / "ls.dcm").string() + " " + (dir / "plain.dcm").string()), 0);
      expectExact(spec, pixelsOf(dir / "plain.dcm"));
      const std::string explicitLe = transcoder->transcode(readFile(dir / "src.dcm"), ts::kExplicitVRLittleEndian);
      writeFile(dir / "le.dcm", explicitLe);
      std::string dump;
      EXPECT_EQ(run("dcmdump " + (dir / "le.dcm").string(), &dump), 0);
      EXPECT_EQ(dump.find("\nW: "), std::string::npos) << dump.substr(0, 2000);
      expectExact(spec, pixelsOf(dir / "le.dcm"));
    }
  }
}

TEST(TranscoderEdge, ChainsAcrossCodecFamiliesStayExact) {
  const auto transcoder = router::makeTranscoder();
  const std::vector<std::vector<const char*>> chains = {
      {ts::kJPEGLSLossless, ts::kJPEG2000Lossless},  // CharLS decode, GDCM encode
      {ts::kJPEG2000Lossless, ts::kJPEGLSLossless},  // GDCM decode, CharLS encode
      {ts::kRLELossless, ts::kJPEGLSLossless},
      {ts::kJPEGLosslessSV1, ts::kRLELossless},
      {ts::kJPEGLSLossless, ts::kImplicitVRLittleEndian},
  };
  for (const char* name : {"ct-s16", "mf-rgb", "ct-12in16", "sc-rgb-odd"}) {
    const ImageSpec spec = suiteImage(name);
    for (const auto& chain : chains) {
      SCOPED_TRACE(std::string(name) + " " + chain[0] + " -> " + chain[1]);
      const std::string first = transcoder->transcode(router::testdata::makeInstance(spec), chain[0]);
      const std::string second = transcoder->transcode(first, chain[1]);
      TempDir dir;
      writeFile(dir / "second.dcm", second);
      EXPECT_EQ(tagOf(dir / "second.dcm", DCM_TransferSyntaxUID), chain[1]);
      // Back to explicit little endian with GDCM's own tool, out of process.
      ASSERT_EQ(run("gdcmconv --raw " + (dir / "second.dcm").string() + " " + (dir / "plain.dcm").string()), 0);
      expectExact(spec, pixelsOf(dir / "plain.dcm"));
    }
  }
}

// Every compressed target refuses `input` with a reason containing `why`.
void expectEveryCodecRefuses(const std::string& input, const std::string& why) {
  const auto transcoder = router::makeTranscoder();
  for (const auto& info : router::knownTransferSyntaxes()) {
    if (!info.canEncode || !info.encapsulated) continue;
    try {
      transcoder->transcode(input, info.uid);
      ADD_FAILURE() << "to " << info.keyword << ": not refused (expected: " << why << ")";
    } catch (const TranscodeError& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

TEST(TranscoderEdge, OneBitImagesAreRefusedNotCrashed) {
  TempDir dir;
  const ImageSpec spec = suiteImage("sc-mono8");
  writeFile(dir / "in.dcm", router::testdata::makeInstance(spec));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((dir / "in.dcm").c_str()).good());
  DcmDataset* ds = file.getDataset();
  ds->putAndInsertUint16(DCM_BitsAllocated, 1);
  ds->putAndInsertUint16(DCM_BitsStored, 1);
  ds->putAndInsertUint16(DCM_HighBit, 0);
  std::vector<Uint8> bits(size_t(spec.rows) * spec.columns / 8, 0x5A);
  ds->putAndInsertUint8Array(DCM_PixelData, bits.data(), static_cast<unsigned long>(bits.size()));
  ASSERT_TRUE(file.saveFile((dir / "onebit.dcm").c_str(), EXS_LittleEndianExplicit).good());
  const std::string input = readFile(dir / "onebit.dcm");

  expectEveryCodecRefuses(input, "BitsAllocated 1");
  // Uncompressed to uncompressed needs no codec: it is only re-encoded.
  EXPECT_NO_THROW(router::makeTranscoder()->transcode(input, ts::kImplicitVRLittleEndian));
}

// A colour photometric interpretation without SamplesPerPixel (read as 1):
// GDCM's JPEG coder read three samples from a buffer of one (fuzz_transcode,
// regressions/transcode/gdcm-jpeg-encoder-overread-ybr-full-without-samples-per-pixel).
TEST(TranscoderEdge, APhotometricInterpretationThatDisagreesWithSamplesPerPixelIsRefused) {
  TempDir dir;
  const ImageSpec spec = suiteImage("sc-mono8");
  writeFile(dir / "in.dcm", router::testdata::makeInstance(spec));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((dir / "in.dcm").c_str()).good());
  DcmDataset* ds = file.getDataset();
  ds->putAndInsertString(DCM_PhotometricInterpretation, "YBR_FULL");
  delete ds->remove(DCM_SamplesPerPixel);
  ASSERT_TRUE(file.saveFile((dir / "ybr.dcm").c_str(), EXS_LittleEndianExplicit).good());
  const std::string input = readFile(dir / "ybr.dcm");

  expectEveryCodecRefuses(input, "YBR_FULL takes 3 samples per pixel, but SamplesPerPixel is 1");
}

TEST(TranscoderEdge, GarbageAndUnknownTargetsAreRefused) {
  const auto transcoder = router::makeTranscoder();
  EXPECT_THROW(transcoder->transcode(std::string(1000, 'x'), ts::kJPEGLSLossless), TranscodeError);
  EXPECT_THROW(transcoder->transcode("", ts::kJPEGLSLossless), TranscodeError);
  const std::string input = router::testdata::makeInstance(suiteImage("ct-s16"));
  EXPECT_THROW(transcoder->transcode(input, ts::kExplicitVRBigEndian), TranscodeError);  // decode only
  EXPECT_THROW(transcoder->transcode(input, "1.2.3.4"), TranscodeError);
  // A truncated compressed file: refused, not a crash.
  const std::string ls = transcoder->transcode(input, ts::kJPEGLSLossless);
  EXPECT_THROW(transcoder->transcode(ls.substr(0, ls.size() - 900), ts::kExplicitVRLittleEndian), TranscodeError);
}

TEST(TranscoderEdge, SameSyntaxReturnsTheInputAndKeywordsAreAccepted) {
  const auto transcoder = router::makeTranscoder();
  const std::string input = router::testdata::makeInstance(suiteImage("ct-s16"));
  EXPECT_EQ(transcoder->transcode(input, ts::kExplicitVRLittleEndian), input);
  EXPECT_EQ(transcoder->transcode(input, "JPEGLSLossless"), transcoder->transcode(input, ts::kJPEGLSLossless));
}

TEST(TranscoderEdge, LossyBookkeeping) {
  const auto transcoder = router::makeTranscoder();
  const ImageSpec spec = suiteImage("sc-mono8");
  const std::string input = router::testdata::makeInstance(spec);
  TempDir dir;

  router::TranscodeOptions keepUid;
  keepUid.newUidWhenLossy = false;
  writeFile(dir / "keep.dcm", transcoder->transcode(input, ts::kJPEG2000, keepUid));
  EXPECT_EQ(tagOf(dir / "keep.dcm", DCM_SOPInstanceUID), spec.sopInstanceUid);
  EXPECT_EQ(tagOf(dir / "keep.dcm", DCM_LossyImageCompression), "01");

  // Lossy then lossless: still marked lossy, both steps on record, and the
  // lossless step keeps the (new) UID of the lossy one.
  const std::string jpeg = transcoder->transcode(input, ts::kJPEGBaseline8Bit);
  writeFile(dir / "jpeg.dcm", jpeg);
  const std::string jpegUid = tagOf(dir / "jpeg.dcm", DCM_SOPInstanceUID);
  writeFile(dir / "ls.dcm", transcoder->transcode(jpeg, ts::kJPEGLSLossless));
  EXPECT_EQ(tagOf(dir / "ls.dcm", DCM_LossyImageCompression), "01");
  EXPECT_EQ(tagOf(dir / "ls.dcm", DCM_SOPInstanceUID), jpegUid);
  writeFile(dir / "j2k.dcm", transcoder->transcode(jpeg, ts::kJPEG2000));
  EXPECT_EQ(tagOf(dir / "j2k.dcm", DCM_LossyImageCompressionMethod), "ISO_10918_1\\ISO_15444_1");
  EXPECT_EQ(tagOf(dir / "j2k.dcm", DCM_ImageType).rfind("DERIVED", 0), 0u);

  // NEAR from options.quality: the per-sample error bound follows it.
  router::TranscodeOptions near5;
  near5.quality = 5;
  writeFile(dir / "near.dcm", transcoder->transcode(input, ts::kJPEGLSNearLossless, near5));
  ASSERT_EQ(run("dcmdjpls " + (dir / "near.dcm").string() + " " + (dir / "near-plain.dcm").string()), 0);
  const std::vector<uint8_t> decoded = pixelsOf(dir / "near-plain.dcm");
  const std::vector<uint8_t> expected = router::testdata::expectedPixels(spec);
  int worst = 0;
  for (size_t i = 0; i < router::testdata::pixelByteCount(spec); ++i)
    worst = std::max(worst, std::abs(int(decoded[i]) - int(expected[i])));
  EXPECT_LE(worst, 5);
  EXPECT_GT(worst, 2);  // the option really reached CharLS
}

TEST(TranscoderEdge, SignedNearLosslessAtTheRangeEndIsRefused) {
  TempDir dir;
  writeFile(dir / "in.dcm", router::testdata::makeInstance(suiteImage("ct-s16")));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((dir / "in.dcm").c_str()).good());
  const Uint16* words = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetUint16Array(DCM_PixelData, words).good());
  std::vector<Uint16> pixels(words, words + 64 * 64);
  pixels[0] = 0x8000;  // -32768, a common CT padding value
  file.getDataset()->putAndInsertUint16Array(DCM_PixelData, pixels.data(), 64 * 64);
  ASSERT_TRUE(file.saveFile((dir / "pad.dcm").c_str(), EXS_LittleEndianExplicit).good());
  const auto transcoder = router::makeTranscoder();
  try {
    transcoder->transcode(readFile(dir / "pad.dcm"), ts::kJPEGLSNearLossless);
    ADD_FAILURE() << "not refused";
  } catch (const TranscodeError& e) {
    EXPECT_NE(std::string(e.what()).find("-32768"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(transcoder->transcode(readFile(dir / "pad.dcm"), ts::kJPEGLSLossless));
}

TEST(TranscoderEdge, JpegLsEncapsulationOneEvenFragmentPerFrame) {
  const ImageSpec spec = suiteImage("mf-gray16");
  const auto transcoder = router::makeTranscoder();
  TempDir dir;
  writeFile(dir / "ls.dcm", transcoder->transcode(router::testdata::makeInstance(spec), ts::kJPEGLSLossless));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((dir / "ls.dcm").c_str()).good());
  DcmElement* element = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetElement(DCM_PixelData, element).good());
  DcmPixelSequence* sequence = nullptr;
  ASSERT_TRUE(static_cast<DcmPixelData*>(element)->getEncapsulatedRepresentation(EXS_JPEGLSLossless, nullptr,
                                                                                  sequence).good());
  ASSERT_NE(sequence, nullptr);
  ASSERT_EQ(sequence->card(), unsigned(spec.frames + 1));  // offset table + one per frame
  for (unsigned long i = 1; i < sequence->card(); ++i) {
    DcmPixelItem* item = nullptr;
    ASSERT_TRUE(sequence->getItem(item, i).good());
    EXPECT_EQ(item->getLength() % 2, 0u);
    Uint8* bytes = nullptr;
    item->getUint8Array(bytes);
    EXPECT_EQ(bytes[0], 0xFF);
    EXPECT_EQ(bytes[1], 0xD8);  // each fragment is a whole JPEG-LS stream
  }
}

TEST(TranscoderEdge, DirtyHighBitsStayBitExact) {
  // 12 bits stored in 16, but the unused high bits carry data (real files
  // do this): JPEG-LS then codes all 16 bits instead of masking.
  ImageSpec spec = suiteImage("ct-12in16");
  TempDir dir;
  writeFile(dir / "in.dcm", router::testdata::makeInstance(spec));
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((dir / "in.dcm").c_str()).good());
  const Uint16* words = nullptr;
  ASSERT_TRUE(file.getDataset()->findAndGetUint16Array(DCM_PixelData, words).good());
  std::vector<Uint16> pixels(words, words + 64 * 64);
  for (size_t i = 0; i < pixels.size(); i += 7) pixels[i] |= 0xF000;
  file.getDataset()->putAndInsertUint16Array(DCM_PixelData, pixels.data(), 64 * 64);
  ASSERT_TRUE(file.saveFile((dir / "dirty.dcm").c_str(), EXS_LittleEndianExplicit).good());

  const auto transcoder = router::makeTranscoder();
  writeFile(dir / "ls.dcm", transcoder->transcode(readFile(dir / "dirty.dcm"), ts::kJPEGLSLossless));
  ASSERT_EQ(run("dcmdjpls " + (dir / "ls.dcm").string() + " " + (dir / "plain.dcm").string()), 0);
  const std::vector<uint8_t> decoded = pixelsOf(dir / "plain.dcm");
  ASSERT_GE(decoded.size(), pixels.size() * 2);
  EXPECT_EQ(std::memcmp(decoded.data(), pixels.data(), pixels.size() * 2), 0);
}

TEST(TranscoderEdge, SafeFromSeveralThreads) {
  const auto transcoder = router::makeTranscoder();
  std::vector<std::string> inputs;
  for (const char* name : {"ct-s16", "mf-rgb", "sc-rgb-odd", "ct-12in16"})
    inputs.push_back(router::testdata::makeInstance(suiteImage(name)));
  const std::vector<const char*> targets = {ts::kJPEGLSLossless, ts::kJPEG2000Lossless, ts::kRLELossless,
                                            ts::kJPEGLosslessSV1};
  std::vector<std::string> expected;
  for (const auto& input : inputs)
    for (const char* target : targets) expected.push_back(transcoder->transcode(input, target));

  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round)
        for (size_t i = 0; i < inputs.size(); ++i)
          for (size_t j = 0; j < targets.size(); ++j)
            if (transcoder->transcode(inputs[(i + t) % inputs.size()], targets[j]) !=
                expected[((i + t) % inputs.size()) * targets.size() + j])
              ++mismatches[t];
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(TranscoderEdge, JpegLsThroughputOn512CT) {
  ImageSpec spec;
  spec.name = "ct-512";
  spec.rows = spec.columns = 512;
  spec.signedPixels = true;
  const std::string input = router::testdata::makeInstance(spec);
  const auto transcoder = router::makeTranscoder();
  const int rounds = 10;
  const double megabytes = 512.0 * 512 * 2 / 1e6;
  std::string encoded;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) encoded = transcoder->transcode(input, ts::kJPEGLSLossless);
  const double encodeSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) transcoder->transcode(encoded, ts::kExplicitVRLittleEndian);
  const double decodeSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ speed    ] JPEG-LS 512x512 16-bit CT, whole transcode(): encode %.1f MB/s, decode %.1f MB/s, "
              "ratio %.2f\n",
              megabytes * rounds / encodeSeconds, megabytes * rounds / decodeSeconds,
              double(input.size()) / double(encoded.size()));
  EXPECT_GT(megabytes * rounds / encodeSeconds, 1.0);  // a sanity floor, not a benchmark
}

}  // namespace
