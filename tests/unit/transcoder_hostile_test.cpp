// Every hostile test file (tests/generator/TestData.h, hostileSuite()) to
// every transfer syntax the appliance writes, through makeTranscoder(). Each
// transcode runs in a child process: a codec that aborts (Debian's GDCM is
// built with assertions) or corrupts the heap fails its own test case, named
// after the file that did it, with the signal, and the others still run.
// What must come out: a TranscodeError with the case's reason ("refuse"), or
// a file a receiver can read, in the target syntax, whose pixels, decoded by
// an independent decoder (dcmtk's, or GDCM's gdcmconv, out of process), are
// exactly the described pixels for lossless targets ("deliver").
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/htj2k_support.h"

#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;
using router::testdata::HostileCase;

namespace {

const std::vector<HostileCase>& suite() {
  static const std::vector<HostileCase> cases = router::testdata::hostileSuite(7);
  return cases;
}

struct Param {
  size_t index;  // into suite()
  std::string keyword, uid;
};

std::vector<Param> params() {
  std::vector<Param> out;
  for (size_t i = 0; i < suite().size(); ++i)
    for (const auto& info : router::knownTransferSyntaxes())
      if (info.canEncode) out.push_back({i, info.keyword, info.uid});
  return out;
}

// What a transcode in a child process gave.
struct Outcome {
  enum Kind { Delivered, Refused, OtherError, Died } kind = Died;
  std::string bytes;  // Delivered: the file; otherwise the message
  int signal = 0;
};

Outcome transcodeIsolated(const std::string& input, const std::string& target) {
  int pipeFds[2];
  if (::pipe(pipeFds) != 0) return {Outcome::OtherError, "pipe failed", 0};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipeFds[0]);
    char kind = 'D';
    std::string payload;
    try {
      payload = router::makeTranscoder()->transcode(input, target);
    } catch (const router::TranscodeError& e) {
      kind = 'R';
      payload = e.what();
    } catch (const std::exception& e) {
      kind = 'X';
      payload = e.what();
    }
    std::string message = kind + payload;
    for (size_t at = 0; at < message.size();) {
      const ssize_t n = ::write(pipeFds[1], message.data() + at, message.size() - at);
      if (n <= 0) break;
      at += size_t(n);
    }
    ::_exit(0);
  }
  ::close(pipeFds[1]);
  std::string received;
  char buffer[65536];
  for (ssize_t n; (n = ::read(pipeFds[0], buffer, sizeof buffer)) > 0;) received.append(buffer, size_t(n));
  ::close(pipeFds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome outcome;
  if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
    return outcome;
  }
  if (received.empty()) return outcome;
  outcome.kind = received[0] == 'D' ? Outcome::Delivered : received[0] == 'R' ? Outcome::Refused : Outcome::OtherError;
  outcome.bytes = received.substr(1);
  return outcome;
}

void writeFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// The command that decodes this syntax to native, with another library than
// ours (as in the transcoder matrix); "" for native syntaxes. dcmdjpeg must
// not turn YBR_FULL into RGB (+cn): the samples are compared as coded.
std::string independentDecoder(const std::string& uid) {
  using namespace router::ts;
  if (uid == kJPEGLSLossless || uid == kJPEGLSNearLossless) return "dcmdjpls";
  if (uid == kJPEGBaseline8Bit || uid == kJPEGExtended12Bit || uid == kJPEGLossless || uid == kJPEGLosslessSV1)
    return "dcmdjpeg +cn";
  if (uid == kRLELossless) return "dcmdrle";
  if (uid == kJPEG2000Lossless || uid == kJPEG2000) return "gdcmconv --raw";
  return "";
}

struct Read {
  bool ok = false;
  std::string transferSyntax;
  std::vector<uint8_t> pixels;
};

Read readDicom(const fs::path& path) {
  Read r;
  DcmFileFormat file;
  if (file.loadFile(path.c_str()).bad()) return r;
  r.ok = true;
  OFString ts;
  file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts);
  r.transferSyntax = ts.c_str();
  r.pixels = router::testdata::nativePixelBytes(*file.getDataset());
  return r;
}

class TranscoderHostile : public ::testing::TestWithParam<Param> {};

TEST_P(TranscoderHostile, DeliversOrRefusesNeverCrashes) {
  const Param& p = GetParam();
  const HostileCase& c = suite()[p.index];
  SCOPED_TRACE(c.name + " -> " + p.keyword + ": " + c.what);
  const Outcome outcome = transcodeIsolated(c.bytes, p.uid);
  ASSERT_NE(outcome.kind, Outcome::Died) << "the transcoder process died" << (outcome.signal ? " with signal " : "")
                                         << (outcome.signal ? strsignal(outcome.signal) : "");
  ASSERT_NE(outcome.kind, Outcome::OtherError) << "an error that is not a TranscodeError: " << outcome.bytes;

  const std::string& expected = c.expectationFor(p.keyword);
  if (expected == "refuse") {
    ASSERT_EQ(outcome.kind, Outcome::Refused) << "must be refused";
    EXPECT_GT(outcome.bytes.size(), 10u) << "a refusal says why";
    if (expected == c.expectation) {
      EXPECT_NE(outcome.bytes.find(c.reason), std::string::npos) << outcome.bytes;
    }
    return;
  }
  ASSERT_EQ(outcome.kind, Outcome::Delivered) << "must be delivered, was refused: " << outcome.bytes;
  if (c.transferSyntax == p.uid) {
    EXPECT_EQ(outcome.bytes, c.bytes) << "nothing to convert: the file goes as received";
    return;
  }

  router::testdata::TempDir dir;
  writeFile(dir / "out.dcm", outcome.bytes);
  fs::path plain = dir / "out.dcm";
  const Read encoded = readDicom(plain);
  ASSERT_TRUE(encoded.ok) << "DCMTK cannot read the result";
  EXPECT_EQ(encoded.transferSyntax, p.uid);
  if (const std::string decoder = independentDecoder(p.uid); !decoder.empty()) {
    const auto result = router::testdata::run(decoder + " " + (dir / "out.dcm").string() + " " +
                                              (dir / "plain.dcm").string());
    ASSERT_EQ(result.exitCode, 0) << decoder << ": " << result.output;
    plain = dir / "plain.dcm";
  }
  Read decoded = readDicom(plain);
  ASSERT_TRUE(decoded.ok);
  if (p.uid == router::ts::kHTJ2KLossless || p.uid == router::ts::kHTJ2K) {
    // No DICOM tool here decodes HTJ2K: OpenJPEG's opj_decompress, frame by frame.
    if (!router::testdata::htj2k::haveOpjDecompress())
      GTEST_SKIP() << "opj_decompress (Debian: libopenjp2-tools) is not installed: no independent HTJ2K decoder";
    DcmFileFormat file;
    ASSERT_TRUE(file.loadFile((dir / "out.dcm").c_str()).good());
    DcmDataset& ds = *file.getDataset();
    Uint16 rows = 0, columns = 0, samples = 1, bits = 0, representation = 0;
    ds.findAndGetUint16(DCM_Rows, rows);
    ds.findAndGetUint16(DCM_Columns, columns);
    ds.findAndGetUint16(DCM_SamplesPerPixel, samples);
    ds.findAndGetUint16(DCM_BitsAllocated, bits);
    ds.findAndGetUint16(DCM_PixelRepresentation, representation);
    std::string failure;
    decoded.pixels = router::testdata::htj2k::opjDecodedPixels(dir / "out.dcm", rows, columns, samples, bits,
                                                               representation == 1, failure);
    ASSERT_EQ(failure, "");
  }
  ASSERT_GE(decoded.pixels.size(), c.pixels.size());
  const router::TransferSyntaxInfo* info = router::findTransferSyntax(p.uid);
  if (!info->lossy) {
    EXPECT_TRUE(std::equal(c.pixels.begin(), c.pixels.end(), decoded.pixels.begin())) << "not pixel-exact";
  }
}

INSTANTIATE_TEST_SUITE_P(Hostile, TranscoderHostile, ::testing::ValuesIn(params()),
                         [](const ::testing::TestParamInfo<Param>& param) {
                           std::string name = suite()[param.param.index].name + "_" + param.param.keyword;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

// The suite itself: every case is there once, says what it is, and its
// SOP Instance UID is clean text.
TEST(HostileSuite, CasesAreNamedAndDescribed) {
  std::set<std::string> names;
  for (const HostileCase& c : suite()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_FALSE(c.what.empty()) << c.name;
    EXPECT_TRUE(c.expectation == "deliver" || c.expectation == "refuse") << c.name;
    EXPECT_TRUE(c.expectation == "deliver" ? !c.pixels.empty() : !c.reason.empty()) << c.name;
    EXPECT_FALSE(c.sopInstanceUid.empty()) << c.name;
    EXPECT_EQ(c.sopInstanceUid.find_first_not_of("0123456789."), std::string::npos) << c.name;
  }
  for (const char* wanted : {"mr-padded-pixels", "rgb-odd-255", "ybr-full-odd", "rgb-odd-jpeg-baseline", "short-pixels",
                             "rows-columns-overflow", "bits-stored-above-allocated", "jpegls-garbage-fragments",
                             "j2k-garbage-fragments", "rtdose-nul-uids", "padded-strings", "private-sequence",
                             "truncated-file"})
    EXPECT_EQ(names.count(wanted), 1u) << wanted;
}

}  // namespace
