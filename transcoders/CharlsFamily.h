// The CharLS family: JPEG-LS lossless and near-lossless, both directions,
// with CharLS 2.4's own C++ API (never GDCM's JPEG-LS codec, which inside
// Orthanc binds to DCMTK's old bundled CharLS and crashes on encode).
//
// Colour: PlanarConfiguration 0 is coded with sample interleave, 1 with no
// interleave; PhotometricInterpretation is kept (no colour transform).
// Signed pixels: the bit pattern is coded, PixelRepresentation kept.
// BitsStored < BitsAllocated: coded with BitsStored bits per sample when every
// sample's unused high bits are zero; otherwise (sign-extended or dirty high
// bits, common in real files) with BitsAllocated bits, so the decoded words
// are bit-for-bit the input words. Nothing is ever masked away.
//
// Stateless; safe from several threads at once.
#pragma once

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class CharlsFamily final : public CodecFamily {
 public:
  const char* name() const override { return "CharLS"; }
  bool canDecode(const std::string& syntax) const override;
  bool canEncode(const std::string& syntax) const override;
  void decode(DicomFile& dicom, const PixelLayout& layout) const override;
  void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
              const TranscodeOptions& options) const override;
};

}  // namespace router::codecs
