// Pixel data checks and repairs run before the codecs (see PixelCheck.h).
#include "transcoders/PixelCheck.h"

#include <cstdio>

#include "transcoders/Encapsulation.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

namespace router::codecs {

namespace {

std::string inWords(long double bytes) {
  char text[32];
  if (bytes >= 1024.0L * 1024 * 1024) {
    std::snprintf(text, sizeof text, "%.1Lf GiB", bytes / (1024.0L * 1024 * 1024));
  } else if (bytes >= 1024.0L * 1024) {
    std::snprintf(text, sizeof text, "%.1Lf MiB", bytes / (1024.0L * 1024));
  } else {
    std::snprintf(text, sizeof text, "%.0Lf bytes", bytes);
  }
  return text;
}

}  // namespace

bool isSubsampledNative(const PixelLayout& l) { return l.photometric == "YBR_FULL_422" && l.samplesPerPixel == 3; }

uint64_t describedPixelBytes(const PixelLayout& l, bool subsampled) {
  // Native YBR_FULL_422 keeps two luminance and one pair of chrominance
  // samples per two pixels (PS3.3 C.7.6.3.1.2).
  const uint64_t samples = subsampled && isSubsampledNative(l) ? 2 : l.samplesPerPixel;
  // Each factor is at most 16 or 32 bits wide, so no step can overflow
  // before the limit is checked.
  const uint64_t limitBits = kMaxPixelBytes * 8;
  const uint64_t frameBits = uint64_t(l.rows) * l.columns * samples * l.bitsAllocated;
  if (frameBits > limitBits || (frameBits > 0 && l.frames > limitBits / frameBits)) {
    const long double total = static_cast<long double>(frameBits) * l.frames / 8;
    throw TranscodeError("the image attributes describe " + inWords(total) +
                         " of pixel data (Rows " + std::to_string(l.rows) + ", Columns " + std::to_string(l.columns) +
                         ", SamplesPerPixel " + std::to_string(l.samplesPerPixel) + ", BitsAllocated " +
                         std::to_string(l.bitsAllocated) + ", NumberOfFrames " + std::to_string(l.frames) +
                         "), more than the " + inWords(static_cast<long double>(kMaxPixelBytes)) + " this appliance takes");
  }
  return (frameBits * l.frames + 7) / 8;
}

void repairNativePixelData(DicomFile& dicom, const PixelLayout& layout, bool asReceived) {
  const uint64_t needed = describedPixelBytes(layout, asReceived);
  gdcm::DataSet& ds = dicom.dataset();
  const gdcm::DataElement& element = ds.GetDataElement(kPixelDataTag);
  if (element.GetSequenceOfFragments())
    throw TranscodeError("the PixelData is encapsulated in fragments, but the transfer syntax " +
                         transferSyntaxName(dicom.syntax) + " says it is not compressed");
  const gdcm::ByteValue* value = element.GetByteValue();
  const uint64_t held = value && value->GetPointer() ? uint64_t(uint32_t(value->GetLength())) : 0;
  if (held < needed) {
    throw TranscodeError("PixelData holds " + std::to_string(held) + " bytes; " + layout.describe() + " needs " +
                         std::to_string(needed));
  }
  // One pad byte is what DICOM wants after an odd size; anything more goes.
  if (held > needed + needed % 2) setNativePixelData(ds, layout, std::string(value->GetPointer(), needed));
}

void checkEncapsulatedPixelData(const DicomFile& dicom, const PixelLayout& layout) {
  describedPixelBytes(layout);  // what the decoders will allocate
  const gdcm::DataElement& element = dicom.dataset().GetDataElement(kPixelDataTag);
  if (!element.GetSequenceOfFragments()) {
    throw TranscodeError("the PixelData is not encapsulated in fragments, but the transfer syntax " +
                         transferSyntaxName(dicom.syntax) + " is a compressed one");
  }
  checkFragments(element, layout.frames);
}

}  // namespace router::codecs
