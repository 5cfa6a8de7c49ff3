#include "transcoders/Jpeg2000Pixels.h"

#include "transcoders/TransferSyntax.h"

namespace router::codecs {

uint32_t sampleAt(const PixelLayout& l, const unsigned char* pixels, size_t index) {
  if (l.bitsAllocated == 8) return pixels[index];
  return uint32_t(pixels[2 * index]) | uint32_t(pixels[2 * index + 1]) << 8;
}

unsigned codedPrecision(const PixelLayout& l, const unsigned char* pixels, size_t samples) {
  if (l.bitsStored == l.bitsAllocated || l.bitsStored == 0) return l.bitsAllocated;
  const uint32_t all = (uint32_t{1} << l.bitsAllocated) - 1;
  const uint32_t high = all & ~((uint32_t{1} << l.bitsStored) - 1);
  const uint32_t signBit = uint32_t{1} << (l.bitsStored - 1);
  for (size_t i = 0; i < samples; ++i) {
    const uint32_t v = sampleAt(l, pixels, i);
    const uint32_t expected = l.pixelRepresentation == 1 && (v & signBit) ? high : 0;
    if ((v & high) != expected) return l.bitsAllocated;
  }
  return l.bitsStored;
}

void setDecodedPixels(DicomFile& dicom, const PixelLayout& layout, std::string pixels) {
  gdcm::DataSet& ds = dicom.dataset();
  setNativePixelData(ds, layout, std::move(pixels));
  if (layout.samplesPerPixel == 3) {
    setUnsignedShort(ds, gdcm::Tag(0x0028, 0x0006), 0);
    if (layout.photometric == "YBR_RCT" || layout.photometric == "YBR_ICT")
      setString(ds, gdcm::Tag(0x0028, 0x0004), gdcm::VR::CS, "RGB");
  }
  dicom.syntax = ts::kExplicitVRLittleEndian;
}

}  // namespace router::codecs
