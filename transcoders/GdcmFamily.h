// The GDCM codec family: JPEG (IJG 8/12/16-bit inside GDCM), RLE decoding
// (encoding: RleFamily), and the uncompressed syntaxes GDCM reads but the
// appliance does not write (big endian). Never used for JPEG-LS: inside
// Orthanc GDCM's JPEG-LS codec binds to DCMTK's old bundled CharLS and
// crashes; nor for JPEG 2000, where Debian's GDCM asserts and overruns
// buffers on sizes it does not expect (OpenJpegFamily does it instead).
// Lossy JPEG of 8-bit YBR_FULL goes through RGB (GDCM's coder takes RGB).
//
// Stateless; GDCM's codecs are created per call, so it is safe from several
// threads at once.
#pragma once

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class GdcmFamily final : public CodecFamily {
 public:
  const char* name() const override { return "GDCM"; }
  bool canDecode(const std::string& syntax) const override;
  bool canEncode(const std::string& syntax) const override;
  void decode(DicomFile& dicom, const PixelLayout& layout) const override;
  void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
              const TranscodeOptions& options) const override;
};

}  // namespace router::codecs
