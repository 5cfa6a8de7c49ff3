// What the two JPEG 2000 codec families (OpenJpegFamily: Part 1 on
// OpenJPEG; OpenJphFamily: HTJ2K on OpenJPH) do alike with native pixels on
// either side of the codestream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "transcoders/DicomFile.h"

namespace router::codecs {

// Sample `index` of little-endian native pixels, 8 or 16 bits allocated.
uint32_t sampleAt(const PixelLayout& l, const unsigned char* pixels, size_t index);

// Bits per coded sample: BitsStored when every unused high bit is zero
// (unsigned) or a copy of the sign bit (signed), else all allocated bits, so
// that no stored bit is lost.
unsigned codedPrecision(const PixelLayout& l, const unsigned char* pixels, size_t samples);

// Puts decoded frames into the file as native pixel data in Explicit VR
// Little Endian: colour interleaved (PlanarConfiguration 0), and RGB where
// the decoder undid a YBR_RCT/YBR_ICT colour transform.
void setDecodedPixels(DicomFile& dicom, const PixelLayout& layout, std::string pixels);

}  // namespace router::codecs
