// RLE Lossless encoding (DICOM PS3.5 Annex G), written here because GDCM's
// RLE coder asserts (aborts the whole process, Debian builds GDCM with
// assertions on) on images whose size in bytes is odd, e.g. 127x93 8-bit.
// Decoding RLE stays with GDCM, which handles those sizes.
//
// Stateless; safe from several threads at once.
#pragma once

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class RleFamily final : public CodecFamily {
 public:
  const char* name() const override { return "RLE"; }
  bool canDecode(const std::string&) const override { return false; }
  bool canEncode(const std::string& syntax) const override;
  void decode(DicomFile& dicom, const PixelLayout& layout) const override;
  void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
              const TranscodeOptions& options) const override;
};

}  // namespace router::codecs
