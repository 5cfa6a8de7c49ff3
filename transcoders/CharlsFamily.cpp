// JPEG-LS with CharLS 2.4: one JPEG-LS stream per frame, one fragment each.
#include "transcoders/CharlsFamily.h"

#include <cstring>

#include <charls/charls.h>

#include "transcoders/Encapsulation.h"
#include "transcoders/TransferSyntax.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "native pixel data is handed to CharLS as-is: little-endian hosts only"
#endif

namespace router::codecs {

namespace {

bool isJpegLs(const std::string& uid) { return uid == ts::kJPEGLSLossless || uid == ts::kJPEGLSNearLossless; }

void checkSupported(const PixelLayout& l, bool lossy) {
  const std::string what = " (" + l.describe() + ")";
  if (l.bitsAllocated != 8 && l.bitsAllocated != 16)
    throw TranscodeError("JPEG-LS here takes 8- or 16-bit allocated samples only" + what);
  if (l.bitsStored < 2) throw TranscodeError("JPEG-LS needs at least 2 bits per sample" + what);
  if (l.samplesPerPixel == 3) {
    if (l.photometric != "RGB" && l.photometric != "YBR_FULL")
      throw TranscodeError("JPEG-LS takes colour as RGB or YBR_FULL only, not " + l.photometric + what);
  } else if (l.samplesPerPixel != 1) {
    throw TranscodeError("JPEG-LS here takes 1 or 3 samples per pixel" + what);
  }
  if (lossy && l.photometric == "PALETTE COLOR")
    throw TranscodeError("near-lossless JPEG-LS would corrupt palette indices" + what);
}

// Bits per JPEG-LS sample: BitsStored when all unused high bits are zero,
// else BitsAllocated (see the header).
int codedBits(const PixelLayout& l, const char* pixels, size_t bytes) {
  if (l.bitsStored == l.bitsAllocated) return static_cast<int>(l.bitsStored);
  if (l.bitsAllocated == 8) {
    const uint8_t mask = static_cast<uint8_t>(0xFFu << l.bitsStored);
    for (size_t i = 0; i < bytes; ++i)
      if (uint8_t(pixels[i]) & mask) return 8;
  } else {
    const uint16_t mask = static_cast<uint16_t>(0xFFFFu << l.bitsStored);
    for (size_t i = 0; i + 1 < bytes; i += 2) {
      uint16_t v;
      std::memcpy(&v, pixels + i, 2);
      if (v & mask) return 16;
    }
  }
  return static_cast<int>(l.bitsStored);
}

// Near-lossless codes the bit pattern as unsigned numbers, so a signed sample
// within NEAR of the most negative or most positive value can come back on
// the other end of the range (-32768 padding turning into +32766).
void checkSignedRange(const PixelLayout& l, const char* pixels, size_t bytes, int nearLossless) {
  const long lowest = -(1L << (l.bitsStored - 1)), highest = (1L << (l.bitsStored - 1)) - 1;
  const unsigned shift = 32 - l.bitsStored;
  for (size_t i = 0; i < bytes; i += l.bytesPerSample()) {
    uint32_t raw = uint8_t(pixels[i]);
    if (l.bitsAllocated == 16) raw |= uint32_t(uint8_t(pixels[i + 1])) << 8;
    const long value = static_cast<int32_t>(raw << shift) >> shift;  // sign-extend from BitsStored
    if (value < lowest + nearLossless || value > highest - nearLossless)
      throw TranscodeError("JPEGLSNearLossless cannot code this signed image: sample value " +
                           std::to_string(value) + " lies within NEAR=" + std::to_string(nearLossless) +
                           " of the end of the signed range and could come back with the opposite sign; "
                           "use JPEGLSLossless or JPEG2000 (" + l.describe() + ")");
  }
}

// Reorders one frame between colour-by-plane and colour-by-pixel.
std::string toPlanar(const std::string& in, size_t pixels, size_t sampleBytes, bool toPlanes) {
  std::string out(in.size(), '\0');
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < 3; ++c) {
      const size_t interleaved = (p * 3 + c) * sampleBytes;
      const size_t planar = (c * pixels + p) * sampleBytes;
      std::memcpy(&out[toPlanes ? planar : interleaved], &in[toPlanes ? interleaved : planar], sampleBytes);
    }
  return out;
}

// The frame's JPEG-LS stream, written straight into its fragment's value.
FragmentValue encodeFrame(const PixelLayout& l, const char* frame, int bits, int nearLossless) {
  // CharLS takes 1 byte per sample up to 8 bits, 2 above: narrow 16-bit
  // words whose values fit in 8 bits.
  std::string narrowed;
  const char* source = frame;
  size_t sourceBytes = l.frameBytes();
  if (bits <= 8 && l.bitsAllocated == 16) {
    narrowed.resize(sourceBytes / 2);
    for (size_t i = 0; i < narrowed.size(); ++i) narrowed[i] = frame[2 * i];
    source = narrowed.data();
    sourceBytes = narrowed.size();
  }
  charls::jpegls_encoder encoder;
  encoder.frame_info({l.columns, l.rows, bits, static_cast<int32_t>(l.samplesPerPixel)})
      .near_lossless(nearLossless)
      .interleave_mode(l.samplesPerPixel == 1 || l.planarConfiguration == 1 ? charls::interleave_mode::none
                                                                              : charls::interleave_mode::sample);
  FragmentValue out = makeFragmentValue(encoder.estimated_destination_size());
  encoder.destination(out->GetVoidPointer(), out->GetLength());
  fitFragmentValue(*out, encoder.encode(source, sourceBytes));
  return out;
}

std::string decodeFrame(const PixelLayout& l, const std::string& stream, unsigned index) {
  charls::jpegls_decoder decoder;
  decoder.source(stream.data(), stream.size()).read_header();
  const charls::frame_info info = decoder.frame_info();
  if (info.width != l.columns || info.height != l.rows || info.component_count != int32_t(l.samplesPerPixel) ||
      info.bits_per_sample > int32_t(l.bitsAllocated)) {
    throw TranscodeError("JPEG-LS frame " + std::to_string(index + 1) + " is " + std::to_string(info.width) + "x" +
                         std::to_string(info.height) + ", " + std::to_string(info.component_count) + " components, " +
                         std::to_string(info.bits_per_sample) + " bits; the dataset says " + l.describe());
  }
  std::string pixels(decoder.destination_size(), '\0');
  decoder.decode(pixels.data(), pixels.size());

  const size_t sampleBytes = info.bits_per_sample <= 8 ? 1 : 2;
  if (l.samplesPerPixel == 3) {
    const bool streamPlanar = decoder.interleave_mode() == charls::interleave_mode::none;
    if (streamPlanar != (l.planarConfiguration == 1))
      pixels = toPlanar(pixels, size_t(l.rows) * l.columns, sampleBytes, !streamPlanar);
  }
  if (sampleBytes == 1 && l.bitsAllocated == 16) {
    std::string widened(pixels.size() * 2, '\0');
    for (size_t i = 0; i < pixels.size(); ++i) widened[2 * i] = pixels[i];
    pixels.swap(widened);
  }
  return pixels;
}

}  // namespace

bool CharlsFamily::canDecode(const std::string& syntax) const { return isJpegLs(syntax); }

bool CharlsFamily::canEncode(const std::string& syntax) const { return isJpegLs(syntax); }

void CharlsFamily::decode(DicomFile& dicom, const PixelLayout& layout) const {
  checkSupported(layout, false);
  const std::vector<std::string> streams = framesOf(dicom.dataset().GetDataElement(kPixelDataTag), layout.frames);
  std::string pixels;
  pixels.reserve(layout.frameBytes() * layout.frames);
  try {
    for (unsigned i = 0; i < streams.size(); ++i) pixels += decodeFrame(layout, streams[i], i);
  } catch (const charls::jpegls_error& e) {
    throw TranscodeError(std::string("CharLS could not decode the JPEG-LS pixel data: ") + e.what());
  }
  setNativePixelData(dicom.dataset(), layout, std::move(pixels));
  dicom.syntax = ts::kExplicitVRLittleEndian;
}

void CharlsFamily::encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
                          const TranscodeOptions& options) const {
  const bool lossy = target == ts::kJPEGLSNearLossless;
  checkSupported(layout, lossy);
  const gdcm::ByteValue* value = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const size_t needed = layout.frameBytes() * layout.frames;
  if (!value || value->GetLength() < needed)
    throw TranscodeError("PixelData holds " + std::to_string(value ? uint32_t(value->GetLength()) : 0u) + " bytes; " +
                         layout.describe() + " needs " + std::to_string(needed));
  const int nearLossless = lossy ? (options.quality > 0 ? options.quality : 2) : 0;
  if (nearLossless > 255) throw TranscodeError("JPEG-LS NEAR must be 0..255, got " + std::to_string(nearLossless));

  if (lossy && layout.pixelRepresentation == 1) checkSignedRange(layout, value->GetPointer(), needed, nearLossless);
  const int bits = codedBits(layout, value->GetPointer(), needed);
  std::vector<FragmentValue> streams;
  try {
    for (unsigned i = 0; i < layout.frames; ++i)
      streams.push_back(encodeFrame(layout, value->GetPointer() + i * layout.frameBytes(), bits, nearLossless));
  } catch (const charls::jpegls_error& e) {
    throw TranscodeError(std::string("CharLS could not encode the image as JPEG-LS (") + layout.describe() +
                         "): " + e.what());
  }
  dicom.dataset().Replace(encapsulate(streams));
  dicom.syntax = target;
}

}  // namespace router::codecs
