// The HTJ2K family (OpenJphFamily) through makeTranscoder(): round trips
// over the generator's images and a few more (MONOCHROME1, 8- and 12-bit
// signed, tiny and odd sizes, YBR_FULL, multi-frame colour), the independent
// check with OpenJPEG's opj_decompress, decoding of .202 and .203 inputs,
// inputs with a colour transform (YBR_RCT, YBR_ICT, made with OpenJPH), the
// refusal of .202 as a target, and broken codestreams that must end in a
// TranscodeError naming the problem, never in a crash.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <gtest/gtest.h>
#include <openjph/ojph_arch.h>
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_params.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>

#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/htj2k_support.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

namespace fs = std::filesystem;
namespace ts = router::ts;
using router::TranscodeError;
using router::testdata::ImageSpec;
using router::testdata::TempDir;

namespace {

std::vector<ImageSpec> images() {
  std::vector<ImageSpec> specs;
  for (const ImageSpec& spec : router::testdata::standardSuite())
    if (!spec.noPixelData) specs.push_back(spec);
  auto add = [&](const std::string& name) -> ImageSpec& {
    ImageSpec s;
    s.name = name;
    s.modality = "OT";
    s.instanceNumber = 100 + int(specs.size());
    specs.push_back(s);
    return specs.back();
  };
  {
    ImageSpec& s = add("cr-mono1");
    s.modality = "CR";
    s.photometric = "MONOCHROME1";
    s.bitsStored = 12;
  }
  {
    ImageSpec& s = add("s12in16");
    s.bitsStored = 12;
    s.signedPixels = true;
  }
  {
    ImageSpec& s = add("s8");
    s.bitsAllocated = s.bitsStored = 8;
    s.signedPixels = true;
  }
  {
    ImageSpec& s = add("tiny-1x1");
    s.rows = s.columns = 1;
  }
  {
    ImageSpec& s = add("rgb-2x3");
    s.rows = 2;
    s.columns = 3;
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
  }
  {
    ImageSpec& s = add("rgb-mf-odd-planar1");
    s.rows = 17;
    s.columns = 23;
    s.frames = 2;
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
    s.planarConfiguration = 1;
  }
  {
    ImageSpec& s = add("ybr-full");
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "YBR_FULL";
  }
  return specs;
}

struct Native {
  std::string syntax, photometric, lossy, lossyMethod, sopInstanceUid;
  Uint16 planar = 0;
  std::vector<uint8_t> pixels;
};

Native readNative(const std::string& part10) {
  Native n;
  DcmInputBufferStream stream;
  stream.setBuffer(part10.data(), offile_off_t(part10.size()));
  stream.setEos();
  DcmFileFormat file;
  file.transferInit();
  const OFCondition status = file.read(stream);
  file.transferEnd();
  EXPECT_TRUE(status.good()) << status.text();
  OFString s;
  if (file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, s).good()) n.syntax = s.c_str();
  DcmDataset& ds = *file.getDataset();
  if (ds.findAndGetOFString(DCM_PhotometricInterpretation, s).good()) n.photometric = s.c_str();
  if (ds.findAndGetOFString(DCM_LossyImageCompression, s).good()) n.lossy = s.c_str();
  if (ds.findAndGetOFStringArray(DCM_LossyImageCompressionMethod, s).good())
    n.lossyMethod = s.c_str();
  if (ds.findAndGetOFString(DCM_SOPInstanceUID, s).good()) n.sopInstanceUid = s.c_str();
  ds.findAndGetUint16(DCM_PlanarConfiguration, n.planar);
  if (n.syntax == ts::kExplicitVRLittleEndian) n.pixels = router::testdata::nativePixelBytes(ds);
  return n;
}

// The generated pixels colour by pixel (what every decoder here gives back),
// without the pad byte of odd lengths.
std::vector<uint8_t> interleaved(const ImageSpec& spec) {
  std::vector<uint8_t> pixels = router::testdata::expectedPixels(spec);
  pixels.resize(router::testdata::pixelByteCount(spec));
  if (spec.samplesPerPixel != 3 || spec.planarConfiguration == 0) return pixels;
  const size_t bytes = size_t(spec.bitsAllocated / 8), count = size_t(spec.rows) * spec.columns;
  std::vector<uint8_t> out(pixels.size());
  for (size_t f = 0; f < size_t(spec.frames); ++f)
    for (size_t p = 0; p < count; ++p)
      for (size_t c = 0; c < 3; ++c)
        for (size_t b = 0; b < bytes; ++b)
          out[f * count * 3 * bytes + (p * 3 + c) * bytes + b] =
              pixels[f * count * 3 * bytes + (c * count + p) * bytes + b];
  return out;
}

// Largest absolute sample difference and PSNR against the BitsStored range.
struct Error {
  double maxAbs = 0, psnr = 1e9;
};

Error compare(const ImageSpec& spec, const std::vector<uint8_t>& expected,
              const std::vector<uint8_t>& actual) {
  Error e;
  const size_t bytes = size_t(spec.bitsAllocated / 8);
  const size_t count = std::min(expected.size(), actual.size()) / bytes;
  double sum = 0;
  auto value = [&](const std::vector<uint8_t>& v, size_t i) {
    if (bytes == 1) return spec.signedPixels ? double(int8_t(v[i])) : double(v[i]);
    const uint16_t w = uint16_t(v[2 * i] | v[2 * i + 1] << 8);
    return spec.signedPixels ? double(int16_t(w)) : double(w);
  };
  for (size_t i = 0; i < count; ++i) {
    const double d = value(expected, i) - value(actual, i);
    e.maxAbs = std::max(e.maxAbs, std::fabs(d));
    sum += d * d;
  }
  const double peak = std::pow(2.0, spec.bitsStored) - 1;
  if (sum > 0) e.psnr = 10 * std::log10(peak * peak / (sum / double(count)));
  return e;
}

// The same file under another transfer syntax UID of the same length (the
// HTJ2K UIDs differ in their last digit only).
std::string relabel(std::string part10, const std::string& from, const std::string& to) {
  const size_t at = part10.find(from);
  if (at != std::string::npos && at < 400) part10.replace(at, from.size(), to);
  return part10;
}

class Htj2kImages : public ::testing::TestWithParam<ImageSpec> {};

TEST_P(Htj2kImages, LosslessRoundTripIsExact) {
  const ImageSpec spec = router::testdata::withIdentity(GetParam());
  const auto transcoder = router::makeTranscoder();
  const std::string encoded =
      transcoder->transcode(router::testdata::makeInstance(spec), "HTJ2KLossless");
  const Native meta = readNative(encoded);
  EXPECT_EQ(meta.syntax, ts::kHTJ2KLossless);
  EXPECT_EQ(meta.photometric, spec.photometric);
  EXPECT_EQ(meta.lossy, "");
  EXPECT_EQ(meta.sopInstanceUid, spec.sopInstanceUid);
  if (spec.samplesPerPixel == 3) {
    EXPECT_EQ(meta.planar, 0);
  }
  const Native back = readNative(transcoder->transcode(encoded, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(back.photometric, spec.photometric);
  const std::vector<uint8_t> expected = interleaved(spec);
  ASSERT_GE(back.pixels.size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), back.pixels.begin()))
      << spec.name << " is not pixel-exact";
}

TEST_P(Htj2kImages, LosslessOutputDecodesExactlyWithOpenJpeg) {
  if (!router::testdata::htj2k::haveOpjDecompress())
    GTEST_SKIP() << "opj_decompress (Debian: libopenjp2-tools) is not installed: no independent "
                    "HTJ2K decoder";
  const ImageSpec spec = router::testdata::withIdentity(GetParam());
  TempDir dir;
  const fs::path file = dir / "ht.dcm";
  const std::string encoded =
      router::makeTranscoder()->transcode(router::testdata::makeInstance(spec), ts::kHTJ2KLossless);
  std::ofstream(file, std::ios::binary).write(encoded.data(), std::streamsize(encoded.size()));
  std::string error;
  const std::vector<uint8_t> decoded =
      router::testdata::htj2k::opjDecodedPixels(file, spec.rows, spec.columns, spec.samplesPerPixel,
                                                spec.bitsAllocated, spec.signedPixels, error);
  ASSERT_TRUE(error.empty()) << error;
  const std::vector<uint8_t> expected = interleaved(spec);
  ASSERT_EQ(decoded.size(), expected.size());
  EXPECT_EQ(compare(spec, expected, decoded).maxAbs, 0)
      << spec.name << ": opj_decompress disagrees";
  EXPECT_TRUE(decoded == expected);
}

TEST_P(Htj2kImages, LossyRoundTripIsWithinBoundAndMarked) {
  const ImageSpec spec = router::testdata::withIdentity(GetParam());
  const auto transcoder = router::makeTranscoder();
  const std::string encoded = transcoder->transcode(router::testdata::makeInstance(spec), "HTJ2K");
  const Native meta = readNative(encoded);
  EXPECT_EQ(meta.syntax, ts::kHTJ2K);
  EXPECT_EQ(meta.lossy, "01");
  EXPECT_EQ(meta.lossyMethod, "ISO_15444_15");
  EXPECT_NE(meta.sopInstanceUid, spec.sopInstanceUid);
  EXPECT_EQ(meta.photometric, spec.photometric);
  const Native back = readNative(transcoder->transcode(encoded, ts::kExplicitVRLittleEndian));
  const std::vector<uint8_t> expected = interleaved(spec);
  ASSERT_GE(back.pixels.size(), expected.size());
  const Error error = compare(spec, expected, back.pixels);
  // Measured on these synthetic images at the default quality (90), with
  // margin.
  EXPECT_GE(error.psnr, 40.0) << spec.name << " max abs error " << error.maxAbs;

  if (!router::testdata::htj2k::haveOpjDecompress()) return;
  TempDir dir;
  std::ofstream(dir / "ht.dcm", std::ios::binary)
      .write(encoded.data(), std::streamsize(encoded.size()));
  std::string failure;
  const std::vector<uint8_t> independent = router::testdata::htj2k::opjDecodedPixels(
      dir / "ht.dcm", spec.rows, spec.columns, spec.samplesPerPixel, spec.bitsAllocated,
      spec.signedPixels, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  // Two 9/7 decoders may round a sample differently, never by much.
  EXPECT_LE(compare(spec,
                    std::vector<uint8_t>(back.pixels.begin(),
                                         back.pixels.begin() + long(expected.size())),
                    independent)
                .maxAbs,
            2.0);
}

TEST_P(Htj2kImages, RpclAndHtj2kInputsDecode) {
  const ImageSpec spec = router::testdata::withIdentity(GetParam());
  const auto transcoder = router::makeTranscoder();
  // Our .201 codestreams are RPCL and reversible: valid .202 and .203 content.
  const std::string encoded =
      transcoder->transcode(router::testdata::makeInstance(spec), ts::kHTJ2KLossless);
  const std::vector<uint8_t> expected = interleaved(spec);
  for (const char* uid : {ts::kHTJ2KLosslessRPCL, ts::kHTJ2K}) {
    const std::string input = relabel(encoded, ts::kHTJ2KLossless, uid);
    ASSERT_EQ(readNative(input).syntax, uid);
    const Native back = readNative(transcoder->transcode(input, ts::kJPEGLSLossless));
    EXPECT_EQ(back.syntax, ts::kJPEGLSLossless);
    const Native plain = readNative(transcoder->transcode(input, ts::kExplicitVRLittleEndian));
    ASSERT_GE(plain.pixels.size(), expected.size());
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), plain.pixels.begin())) << uid;
  }
}

INSTANTIATE_TEST_SUITE_P(Images, Htj2kImages, ::testing::ValuesIn(images()),
                         [](const ::testing::TestParamInfo<ImageSpec>& param) {
                           std::string name = param.param.name;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

ImageSpec ct() {
  ImageSpec s;
  s.name = "ct";
  s.signedPixels = true;
  return router::testdata::withIdentity(s);
}

TEST(Htj2k, KeywordsResolve) {
  EXPECT_EQ(router::resolveTransferSyntax("HTJ2KLossless"), std::string(ts::kHTJ2KLossless));
  EXPECT_EQ(router::resolveTransferSyntax("HTJ2KLosslessRPCL"),
            std::string(ts::kHTJ2KLosslessRPCL));
  EXPECT_EQ(router::resolveTransferSyntax("HTJ2K"), std::string(ts::kHTJ2K));
  EXPECT_TRUE(router::findTransferSyntax(ts::kHTJ2KLossless)->canEncode);
  EXPECT_TRUE(router::findTransferSyntax(ts::kHTJ2K)->canEncode);
  EXPECT_TRUE(router::findTransferSyntax(ts::kHTJ2K)->lossy);
  EXPECT_FALSE(router::findTransferSyntax(ts::kHTJ2KLosslessRPCL)->canEncode);
}

TEST(Htj2k, RpclTargetIsRefusedWithTheReason) {
  try {
    router::makeTranscoder()->transcode(router::testdata::makeInstance(ct()), "HTJ2KLosslessRPCL");
    FAIL() << "HTJ2KLosslessRPCL must be refused as a target";
  } catch (const TranscodeError& e) {
    EXPECT_NE(std::string(e.what()).find("TLM"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("HTJ2KLossless"), std::string::npos) << e.what();
  }
}

TEST(Htj2k, QualityChangesSizeAndError) {
  const auto transcoder = router::makeTranscoder();
  const std::string input = router::testdata::makeInstance(ct());
  router::TranscodeOptions coarse, fine;
  coarse.quality = 30;
  fine.quality = 100;
  EXPECT_LT(transcoder->transcode(input, ts::kHTJ2K, coarse).size(),
            transcoder->transcode(input, ts::kHTJ2K, fine).size());
}

TEST(Htj2k, ChainsWithOtherFamiliesStayExact) {
  const auto transcoder = router::makeTranscoder();
  const ImageSpec spec = ct();
  const std::vector<uint8_t> expected = interleaved(spec);
  const std::string input = router::testdata::makeInstance(spec);
  for (const char* via : {ts::kJPEGLSLossless, ts::kJPEG2000Lossless, ts::kRLELossless}) {
    const std::string ht =
        transcoder->transcode(transcoder->transcode(input, via), ts::kHTJ2KLossless);
    const Native back = readNative(
        transcoder->transcode(transcoder->transcode(ht, via), ts::kExplicitVRLittleEndian));
    ASSERT_GE(back.pixels.size(), expected.size()) << via;
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), back.pixels.begin())) << via;
  }
}

// --- inputs with a colour transform (YBR_RCT, YBR_ICT) ----------------------

// An 8-bit RGB image (colour by pixel) as an HTJ2K codestream with OpenJPH's
// multi-component transform: RCT when reversible, ICT when not.
std::string codestreamWithColourTransform(const ImageSpec& spec, const std::vector<uint8_t>& rgb,
                                          bool reversible) {
  ojph::mem_outfile out;
  ojph::codestream codestream;
  ojph::param_siz siz = codestream.access_siz();
  siz.set_image_extent(ojph::point(ojph::ui32(spec.columns), ojph::ui32(spec.rows)));
  siz.set_num_components(3);
  for (ojph::ui32 c = 0; c < 3; ++c) siz.set_component(c, ojph::point(1, 1), 8, false);
  siz.set_tile_size(ojph::size(ojph::ui32(spec.columns), ojph::ui32(spec.rows)));
  ojph::param_cod cod = codestream.access_cod();
  cod.set_num_decomposition(3);
  cod.set_color_transform(true);
  cod.set_reversible(reversible);
  if (!reversible) codestream.access_qcd().set_irrev_quant(1.0f / 256);
  codestream.set_planar(false);
  out.open();
  codestream.write_headers(&out);
  std::vector<int> nextRow(3, 0);
  ojph::ui32 c = 0;
  ojph::line_buf* line = codestream.exchange(nullptr, c);
  for (int n = 0; n < 3 * spec.rows; ++n) {
    const int row = nextRow[c]++;
    for (int x = 0; x < spec.columns; ++x)
      line->i32[x] = rgb[size_t(row * spec.columns + x) * 3 + c];
    line = codestream.exchange(line, c);
  }
  codestream.flush();
  std::string bytes(reinterpret_cast<const char*>(out.get_data()), size_t(out.tell()));
  codestream.close();
  return bytes;
}

// file (ours, HTJ2K, RGB, one frame) with its only codestream replaced and
// PhotometricInterpretation set to photometric (8 characters).
std::string withCodestream(const std::string& file, std::string codestream,
                           const std::string& photometric) {
  if (codestream.size() % 2) codestream.push_back('\0');
  const std::vector<std::string> fragments = router::testdata::htj2k::fragmentsOf(file);
  const size_t at = file.rfind(fragments.at(0));
  std::string out = file.substr(0, at - 4);
  for (int i = 0; i < 4; ++i) out.push_back(char((codestream.size() >> (8 * i)) & 0xff));
  out += codestream;
  out += file.substr(at + fragments[0].size());
  const std::string rgb(
      "\x28\x00\x04\x00"
      "CS\x04\x00RGB ",
      12);
  const size_t pi = out.find(rgb);
  if (pi == std::string::npos || photometric.size() != 8) return "";
  return out.replace(pi, rgb.size(),
                     std::string("\x28\x00\x04\x00"
                                 "CS\x08\x00",
                                 8) +
                         photometric);
}

TEST(Htj2k, ColourTransformedInputsComeBackAsRgb) {
  ImageSpec spec;
  spec.name = "rgb-mct";
  spec.modality = "OT";
  spec.bitsAllocated = spec.bitsStored = 8;
  spec.samplesPerPixel = 3;
  spec.photometric = "RGB";
  spec = router::testdata::withIdentity(spec);
  const auto transcoder = router::makeTranscoder();
  const std::string ours =
      transcoder->transcode(router::testdata::makeInstance(spec), ts::kHTJ2KLossless);
  const std::vector<uint8_t> expected = interleaved(spec);

  const std::string rct =
      withCodestream(ours, codestreamWithColourTransform(spec, expected, true), "YBR_RCT ");
  ASSERT_FALSE(rct.empty());
  ASSERT_EQ(readNative(rct).photometric, "YBR_RCT");
  const Native exact = readNative(transcoder->transcode(rct, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(exact.photometric, "RGB");
  ASSERT_GE(exact.pixels.size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), exact.pixels.begin()))
      << "YBR_RCT is lossless";

  const std::string ict = relabel(
      withCodestream(ours, codestreamWithColourTransform(spec, expected, false), "YBR_ICT "),
      ts::kHTJ2KLossless, ts::kHTJ2K);
  ASSERT_FALSE(ict.empty());
  const Native close = readNative(transcoder->transcode(ict, ts::kExplicitVRLittleEndian));
  EXPECT_EQ(close.photometric, "RGB");
  ASSERT_GE(close.pixels.size(), expected.size());
  EXPECT_GE(compare(spec, expected, close.pixels).psnr, 35.0);
}

// --- broken codestreams -----------------------------------------------------

// The first frame's codestream inside an encoded file: offset and length.
std::pair<size_t, size_t> firstFragment(const std::string& part10) {
  const std::vector<std::string> fragments = router::testdata::htj2k::fragmentsOf(part10);
  if (fragments.empty()) return {std::string::npos, 0};
  return {part10.find(fragments[0]), fragments[0].size()};
}

// Runs the transcode in a child: 'D' delivered, 'R' TranscodeError (with its
// message), 'X' another exception, "died" on a signal.
std::string transcodeInChild(const std::string& input, const std::string& target) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string answer;
    try {
      router::makeTranscoder()->transcode(input, target);
      answer = "D";
    } catch (const TranscodeError& e) {
      answer = std::string("R") + e.what();
    } catch (const std::exception& e) {
      answer = std::string("X") + e.what();
    }
    if (::write(fds[1], answer.data(), answer.size()) < 0) ::_exit(1);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;)
    received.append(buffer, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return std::string("died: ") + strsignal(WTERMSIG(status));
  return received.empty() ? "died: no answer" : received;
}

class Htj2kBroken : public ::testing::Test {
 protected:
  void SetUp() override {
    encoded_ = router::makeTranscoder()->transcode(router::testdata::makeInstance(ct()),
                                                   ts::kHTJ2KLossless);
    std::tie(at_, length_) = firstFragment(encoded_);
    ASSERT_NE(at_, std::string::npos);
    ASSERT_GT(length_, 100u);
  }
  // Must be a TranscodeError whose message contains `word`.
  void expectRefused(const std::string& input, const std::string& word) {
    const std::string outcome = transcodeInChild(input, ts::kExplicitVRLittleEndian);
    ASSERT_EQ(outcome.substr(0, 1), "R") << outcome;
    EXPECT_NE(outcome.find(word), std::string::npos) << outcome;
  }
  std::string encoded_;
  size_t at_ = 0, length_ = 0;
};

TEST_F(Htj2kBroken, TruncatedCodestreamIsRefused) {
  std::string input = encoded_;
  std::fill(input.begin() + long(at_ + length_ / 2), input.begin() + long(at_ + length_), '\0');
  expectRefused(input, "truncated");
}

TEST_F(Htj2kBroken, ZerosAfterTheEndOfTheCodestreamAreAccepted) {
  // Some writers pad fragments with more than the one byte DICOM needs.
  std::string codestream = encoded_.substr(at_, length_);
  while (!codestream.empty() && codestream.back() == '\0') codestream.pop_back();
  std::string input = encoded_.substr(0, at_ - 4);
  const std::string padded = codestream + std::string(codestream.size() % 2 ? 5 : 4, '\0');
  for (int i = 0; i < 4; ++i) input.push_back(char((padded.size() >> (8 * i)) & 0xff));
  input += padded + encoded_.substr(at_ + length_);
  EXPECT_EQ(transcodeInChild(input, ts::kExplicitVRLittleEndian), "D");
}

TEST_F(Htj2kBroken, GarbageCodestreamIsRefused) {
  std::string input = encoded_;
  std::fill(input.begin() + long(at_), input.begin() + long(at_ + length_), 'x');
  expectRefused(input, "not a JPEG 2000 codestream");
}

TEST_F(Htj2kBroken, CodestreamOfAnotherSizeIsRefused) {
  std::string input = encoded_;
  // SIZ: marker (4 bytes from the start: FF 51), Lsiz, Rsiz, then Xsiz.
  input[at_ + 8] = '\x00';
  input[at_ + 9] = '\x00';
  input[at_ + 10] = '\x01';
  input[at_ + 11] = '\x00';
  expectRefused(input, "the dataset says");
}

TEST_F(Htj2kBroken, CorruptedCodeBlocksNeverCrash) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::string input = encoded_;
    uint32_t state = seed * 2654435761u;
    // Keep the main header (first 120 bytes) and EOC; scramble the rest.
    for (int i = 0; i < 64; ++i) {
      state = state * 1664525u + 1013904223u;
      const size_t offset = 120 + state % (length_ - 124);
      input[at_ + offset] = char(state >> 24);
    }
    const std::string outcome = transcodeInChild(input, ts::kExplicitVRLittleEndian);
    EXPECT_TRUE(outcome[0] == 'D' || outcome[0] == 'R') << "seed " << seed << ": " << outcome;
    if (outcome[0] == 'R') {
      EXPECT_NE(outcome.find("HTJ2K frame 1"), std::string::npos) << outcome;
      EXPECT_EQ(outcome.find("ojph error\n"), std::string::npos)
          << "OpenJPH's own words are wanted: " << outcome;
    }
  }
}

TEST_F(Htj2kBroken, CorruptedHeadersNeverCrash) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::string input = encoded_;
    uint32_t state = seed * 40503u;
    for (int i = 0; i < 4; ++i) {
      state = state * 1664525u + 1013904223u;
      input[at_ + 4 + state % 116] = char(state >> 24);
    }
    const std::string outcome = transcodeInChild(input, ts::kExplicitVRLittleEndian);
    EXPECT_TRUE(outcome[0] == 'D' || outcome[0] == 'R') << "seed " << seed << ": " << outcome;
  }
}

}  // namespace

namespace router::testdata {
// Test names instead of byte dumps in failure messages.
void PrintTo(const ImageSpec& spec, std::ostream* os) {
  *os << spec.name;
}
}  // namespace router::testdata
