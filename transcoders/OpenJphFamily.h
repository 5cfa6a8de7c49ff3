// The OpenJPH family: High-Throughput JPEG 2000 (ISO/IEC 15444-15, DICOM
// PS3.5 8.2.14) with Debian's OpenJPH 0.9.0, one codestream per frame.
//
// Decodes HTJ2KLossless (.201), HTJ2KLosslessRPCL (.202) and HTJ2K (.203).
// Encodes .201 (reversible 5/3 wavelet) and .203 (irreversible 9/7). .202 is
// not produced: its codestreams must carry TLM (tile-part length) markers as
// well as the RPCL progression, and OpenJPH 0.9.0 writes TLM markers only
// under its BROADCAST and IMF profiles, both of which it makes use CPRL
// (checked on Debian's build: with RPCL it refuses those profiles, without a
// profile it writes no TLM). A .202 file without TLM would not conform, so
// it is refused as a target.
//
// .203 quality (TranscodeOptions::quality, 1..100, default 90, higher is
// better): OpenJPH 0.9.0 has no rate control, only the base quantisation
// step, which is 2^((100 - quality) / 10) sample units: 1 at 100, 2 at 90,
// 32 at 50, whatever the bit depth.
//
// Colour is coded without a multi-component transform, so the
// PhotometricInterpretation stays what it was (RGB, YBR_FULL); on decoding,
// YBR_RCT/YBR_ICT come back as RGB (OpenJPH undoes the transform).
// BitsStored < BitsAllocated: coded with BitsStored bits when the unused high
// bits are zero (unsigned) or a sign extension (signed), else with
// BitsAllocated bits, so that decoding gives back the same words.
//
// Memory only (mem_infile/mem_outfile): no file is opened, which the
// worker's seccomp filter would refuse anyway. OpenJPH prints its errors to
// a process-wide stream before throwing; the family points that stream, once
// (on construction), at a per-thread buffer so that each TranscodeError
// carries OpenJPH's words, and silences its warnings and info.
//
// Stateless; every call makes its own codestream: safe from several threads
// at once.
#pragma once

#include "transcoders/CodecFamily.h"

namespace router::codecs {

class OpenJphFamily final : public CodecFamily {
 public:
  OpenJphFamily();
  const char* name() const override { return "OpenJPH"; }
  bool canDecode(const std::string& syntax) const override;
  bool canEncode(const std::string& syntax) const override;
  void decode(DicomFile& dicom, const PixelLayout& layout) const override;
  void encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
              const TranscodeOptions& options) const override;
};

}  // namespace router::codecs
