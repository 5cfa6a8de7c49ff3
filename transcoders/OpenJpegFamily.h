// The OpenJPEG family: JPEG 2000 (lossless and lossy, Part 1), both
// directions, with OpenJPEG 2.5's own API, one codestream per frame.
//
// Not through GDCM: Debian's GDCM 3.0.21 (built with assertions) aborts or
// corrupts the heap in its JPEG 2000 code on inputs a router must survive:
//  - encoding: gdcm::JPEG2000Codec::Code() cuts the pixel buffer into
//    frames as length / frames, so pixel data longer than described gives a
//    frame length rawtoimage() asserts on ("((fragment_size + 1)/2)*2 ==
//    ((w*h*samples*bytes + 1)/2)*2"); and CodeFrameIntoBuffer() writes the
//    codestream into a buffer of twice the raw frame size without a bound,
//    which small images (a 1x1 or 2x2 RGB, any image of a few dozen bytes)
//    overrun: heap corruption, then SIGSEGV or glibc's abort;
//  - decoding: DecodeByStreamsCommon() asserts that the codestream has as
//    many components as SamplesPerPixel and copies a codestream larger than
//    Rows x Columns into a buffer sized from the dataset (heap overrun).
// Here every codestream header is checked against the dataset before any
// pixel is copied, and output buffers grow as needed.
//
// Colour is coded without a multi-component transform, so the
// PhotometricInterpretation stays what it was (RGB, YBR_FULL); on decoding,
// YBR_RCT/YBR_ICT come back as RGB (OpenJPEG undoes the transform).
// BitsStored < BitsAllocated: coded with BitsStored bits when the unused high
// bits are zero (unsigned) or a sign extension (signed), else with
// BitsAllocated bits, so that decoding gives back the same words.
//
// Stateless; every call makes its own OpenJPEG codec: safe from several
// threads at once.
#pragma once

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class OpenJpegFamily final : public CodecFamily {
 public:
  const char* name() const override { return "OpenJPEG"; }
  bool canDecode(const std::string& syntax) const override;
  bool canEncode(const std::string& syntax) const override;
  void decode(DicomFile& dicom, const PixelLayout& layout) const override;
  void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
              const TranscodeOptions& options) const override;
};

}  // namespace router::codecs
