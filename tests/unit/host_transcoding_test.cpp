// HostTranscoding: which of Orthanc's allowed syntaxes is chosen, and the
// conversion itself with the appliance's real codecs (in process here; the
// plugin gives it the worker pool). Orthanc's side is in
// tests/integration/test_transcoding.py.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugins/core/HostTranscoding.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/TagReader.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/lines_log.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

TEST(ChooseHostTarget, UncompressedFirstThenLosslessThenLossyOnlyIfAllowed) {
  const std::string jls = ts::kJPEGLSLossless;
  EXPECT_EQ(chooseHostTarget(jls, {ts::kJPEG2000Lossless, ts::kImplicitVRLittleEndian, ts::kExplicitVRLittleEndian},
                             false),
            ts::kExplicitVRLittleEndian);
  EXPECT_EQ(chooseHostTarget(jls, {ts::kJPEGBaseline8Bit, ts::kJPEG2000Lossless}, false), ts::kJPEG2000Lossless);
  EXPECT_EQ(chooseHostTarget(jls, {ts::kJPEGBaseline8Bit}, false), "");
  EXPECT_EQ(chooseHostTarget(jls, {ts::kJPEGBaseline8Bit}, true), ts::kJPEGBaseline8Bit);
  // Already in an allowed syntax, or nothing the appliance encodes: Orthanc's business.
  EXPECT_EQ(chooseHostTarget(jls, {ts::kExplicitVRLittleEndian, jls}, false), "");
  EXPECT_EQ(chooseHostTarget(jls, {ts::kDeflatedExplicitVRLittleEndian, ts::kHTJ2KLosslessRPCL}, true), "");
  EXPECT_EQ(chooseHostTarget(jls, {}, true), "");
  // Orthanc's UIDs may carry a NUL pad.
  EXPECT_EQ(chooseHostTarget(jls, {std::string(ts::kRLELossless) + '\0'}, false), ts::kRLELossless);
}

class HostTranscodingTest : public ::testing::Test {
 protected:
  std::unique_ptr<Transcoder> codecs_ = makeTranscoder();
  Metrics metrics_;
  LinesLog log_;
  testdata::ImageSpec spec_ = testdata::withIdentity(testdata::ctSeries(1, 9, 32, 24).front());
};

TEST_F(HostTranscodingTest, Htj2kComesBackPixelExactAndIsCounted) {
  HostTranscoding host(*codecs_, {}, metrics_, log_);
  const std::string native = testdata::makeInstance(spec_);
  const std::string htj2k = codecs_->transcode(native, ts::kHTJ2KLossless);
  std::optional<std::string> out = host.convert(htj2k, {ts::kImplicitVRLittleEndian}, false);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(readIdentity(*out).transferSyntax, ts::kImplicitVRLittleEndian);
  EXPECT_EQ(readIdentity(*out).sopInstanceUid, spec_.sopInstanceUid);
  auto file = parseDicom(*out);
  EXPECT_EQ(testdata::nativePixelBytes(*file->getDataset()), testdata::expectedPixels(spec_));
  EXPECT_NE(metrics_.scrape(QueueDepth{}, {}).find(
                "orthanc_router_transcode_duration_seconds_count{transfer_syntax=\"ImplicitVRLittleEndian\"} 1"),
            std::string::npos);
}

TEST_F(HostTranscodingTest, WhatCannotBeConvertedIsLeftToOrthancAndSaid) {
  HostTranscoding host(*codecs_, {}, metrics_, log_);
  EXPECT_FALSE(host.convert("not DICOM", {ts::kExplicitVRLittleEndian}, false).has_value());
  EXPECT_EQ(log_.count("cannot read the file"), 1);
  // 16-bit pixels cannot be JPEG baseline: the codec refuses, Orthanc may try.
  EXPECT_FALSE(host.convert(testdata::makeInstance(spec_), {ts::kJPEGBaseline8Bit}, true).has_value());
  EXPECT_EQ(log_.count("Orthanc's transcoding request to JPEGBaseline8Bit: "), 1);
}

TEST_F(HostTranscodingTest, LossyUsesTheConfiguredQuality) {
  const std::string native = testdata::makeInstance(spec_);
  HostTranscoding fine(*codecs_, {{ts::kHTJ2K, 100}}, metrics_, log_);
  HostTranscoding coarse(*codecs_, {{ts::kHTJ2K, 30}}, metrics_, log_);
  std::optional<std::string> a = fine.convert(native, {ts::kHTJ2K}, true);
  std::optional<std::string> b = coarse.convert(native, {ts::kHTJ2K}, true);
  ASSERT_TRUE(a && b);
  EXPECT_LT(b->size(), a->size());
  EXPECT_NE(readIdentity(*a).sopInstanceUid, spec_.sopInstanceUid);  // lossy: a new instance
}

}  // namespace
}  // namespace router
