// GDCM codec family: builds a gdcm::Image over the parsed dataset's pixel
// data, runs gdcm::ImageChangeTransferSyntax and writes the result and the
// attributes GDCM changed (PhotometricInterpretation, PlanarConfiguration)
// back. GDCM's ImageWriter is not used: it rewrites far more of the dataset
// than a router should (Modality, ConversionType, NumberOfFrames, ...).
// JPEG 2000 is never given to GDCM (see OpenJpegFamily.h).
#include "transcoders/GdcmFamily.h"

#include <gdcmImage.h>
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmJPEGCodec.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "transcoders/Encapsulation.h"
#include "transcoders/TransferSyntax.h"

namespace router::codecs {

namespace {

gdcm::TransferSyntax gdcmSyntax(const std::string& uid) {
  return gdcm::TransferSyntax(gdcm::TransferSyntax::GetTSType(uid.c_str()));
}

bool isJpegLs(const std::string& uid) { return uid == ts::kJPEGLSLossless || uid == ts::kJPEGLSNearLossless; }

bool isLossyJpeg(const std::string& uid) { return uid == ts::kJPEGBaseline8Bit || uid == ts::kJPEGExtended12Bit; }

bool isJpeg(const std::string& uid) {
  return isLossyJpeg(uid) || uid == ts::kJPEGLossless || uid == ts::kJPEGLosslessSV1;
}

// The marker segments of a JPEG frame up to its scan, checked against the
// dataset before GDCM's IJG decoder sees them: that decoder asserts (aborts)
// on any libjpeg warning while reading the header (stray bytes between
// markers, ...) and on a stream whose precision its codec cannot take.
void checkJpegHeader(const std::string& frame, unsigned index, const PixelLayout& l, const std::string& syntax) {
  const auto* p = reinterpret_cast<const unsigned char*>(frame.data());
  const size_t size = frame.size();
  const std::string where = "JPEG frame " + std::to_string(index + 1);
  auto refuse = [&](const std::string& what) { throw TranscodeError(where + " " + what + " (" + l.describe() + ")"); };
  if (size < 4 || p[0] != 0xFF || p[1] != 0xD8) refuse("does not start with an SOI marker");
  bool frameHeader = false;
  size_t at = 2;
  while (true) {
    if (at + 2 > size) refuse("ends before its scan");
    if (p[at] != 0xFF) refuse("has stray bytes between its markers");
    while (at + 1 < size && p[at + 1] == 0xFF) ++at;  // fill bytes
    if (at + 4 > size) refuse("ends before its scan");
    const unsigned marker = p[at + 1];
    const size_t length = size_t(p[at + 2]) << 8 | p[at + 3];
    if (length < 2 || at + 2 + length > size) refuse("has a marker segment longer than the frame");
    const unsigned char* segment = p + at + 4;
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (frameHeader) refuse("has two frame headers");
      frameHeader = true;
      const bool lossless = marker == 0xC3;
      const bool wanted = syntax == ts::kJPEGBaseline8Bit   ? marker == 0xC0 || marker == 0xC1
                          : syntax == ts::kJPEGExtended12Bit ? marker == 0xC0 || marker == 0xC1
                                                             : lossless;
      char code[8];
      std::snprintf(code, sizeof code, "%02X", marker);
      if (!wanted) refuse(std::string("is coded with SOF marker FF") + code + ", which " + transferSyntaxName(syntax) +
                          " does not use or GDCM does not decode");
      if (length < 8) refuse("has a short frame header");
      const unsigned precision = segment[0];
      const unsigned rows = unsigned(segment[1]) << 8 | segment[2], columns = unsigned(segment[3]) << 8 | segment[4];
      const unsigned components = segment[5];
      if (rows != l.rows || columns != l.columns || components != l.samplesPerPixel || precision > l.bitsAllocated ||
          precision < 2 || (!lossless && precision != 8 && precision != 12))
        refuse("is " + std::to_string(columns) + "x" + std::to_string(rows) + ", " + std::to_string(components) +
               " components of " + std::to_string(precision) + " bits; the dataset says otherwise");
    }
    if (marker == 0xDA) break;  // start of scan
    if (marker == 0xD9) refuse("ends before its scan");
    at += 2 + length;
  }
  if (!frameHeader) refuse("has no frame header");
}

// 8-bit YBR_FULL -> RGB (PS3.3 C.7.6.3.1.2), colour by pixel: GDCM's IJG
// coder takes colour as RGB only. The result is lossy anyway; rounding here
// adds at most 1 to each sample's error.
void ybrFullToRgb(DicomFile& dicom, PixelLayout& layout) {
  const gdcm::ByteValue* value = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const size_t pixels = size_t(layout.rows) * layout.columns;
  const size_t frameBytes = layout.frameBytes();
  if (!value || !value->GetPointer() || value->GetLength() < frameBytes * layout.frames)
    throw TranscodeError("PixelData is shorter than the image (" + layout.describe() + ")");
  const auto* in = reinterpret_cast<const uint8_t*>(value->GetPointer());
  std::string out(frameBytes * layout.frames, '\0');
  auto clamp = [](double v) { return static_cast<char>(static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)))); };
  for (unsigned f = 0; f < layout.frames; ++f) {
    const uint8_t* frame = in + f * frameBytes;
    for (size_t p = 0; p < pixels; ++p) {
      auto at = [&](size_t c) { return double(layout.planarConfiguration == 1 ? frame[c * pixels + p] : frame[p * 3 + c]); };
      const double y = at(0), cb = at(1) - 128, cr = at(2) - 128;
      char* rgb = &out[f * frameBytes + p * 3];
      rgb[0] = clamp(y + 1.402 * cr);
      rgb[1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
      rgb[2] = clamp(y + 1.772 * cb);
    }
  }
  layout.photometric = "RGB";
  layout.planarConfiguration = 0;
  setNativePixelData(dicom.dataset(), layout, std::move(out));
  setString(dicom.dataset(), gdcm::Tag(0x0028, 0x0004), gdcm::VR::CS, "RGB");
  setUnsignedShort(dicom.dataset(), gdcm::Tag(0x0028, 0x0006), 0);
}

// Heap-allocated: GDCM's filters keep intrusive references to their input,
// and Debian builds GDCM with assertions that abort on a stack object that is
// still referenced when it goes away.
gdcm::SmartPointer<gdcm::Image> imageOver(const DicomFile& dicom, const PixelLayout& layout) {
  gdcm::SmartPointer<gdcm::Image> pointer = new gdcm::Image;
  gdcm::Image& image = *pointer;
  image.SetNumberOfDimensions(layout.frames > 1 ? 3 : 2);
  image.SetDimension(0, layout.columns);
  image.SetDimension(1, layout.rows);
  if (layout.frames > 1) image.SetDimension(2, layout.frames);
  image.SetPixelFormat(gdcm::PixelFormat(static_cast<unsigned short>(layout.samplesPerPixel),
                                         static_cast<unsigned short>(layout.bitsAllocated),
                                         static_cast<unsigned short>(layout.bitsStored),
                                         static_cast<unsigned short>(layout.highBit),
                                         static_cast<unsigned short>(layout.pixelRepresentation)));
  const auto pi = gdcm::PhotometricInterpretation::GetPIType(layout.photometric.c_str());
  if (pi == gdcm::PhotometricInterpretation::UNKNOWN || pi == gdcm::PhotometricInterpretation::PI_END)
    throw TranscodeError("GDCM does not know PhotometricInterpretation " + layout.photometric);
  image.SetPhotometricInterpretation(pi);
  image.SetPlanarConfiguration(layout.planarConfiguration);
  image.SetTransferSyntax(gdcmSyntax(dicom.syntax));
  const gdcm::DataElement& pixels = dicom.dataset().GetDataElement(kPixelDataTag);
  const gdcm::ByteValue* native = pixels.GetByteValue();
  const size_t needed = layout.frameBytes() * layout.frames;
  if (native && native->GetLength() < needed) {
    throw TranscodeError("PixelData holds " + std::to_string(uint32_t(native->GetLength())) + " bytes; " +
                         layout.describe() + " needs " + std::to_string(needed));
  }
  image.SetDataElement(pixels);
  return pointer;
}

// Copies GDCM's result into the dataset: pixel data and the attributes that
// describe it.
void takeResult(DicomFile& dicom, const PixelLayout& layout, const gdcm::Image& out, const std::string& syntax) {
  gdcm::DataSet& ds = dicom.dataset();
  gdcm::DataElement pixels = out.GetDataElement();
  pixels.SetTag(kPixelDataTag);
  if (out.GetTransferSyntax().IsEncapsulated()) {
    pixels.SetVR(gdcm::VR::OB);
  } else {
    pixels.SetVR(layout.bitsAllocated > 8 ? gdcm::VR::OW : gdcm::VR::OB);
  }
  ds.Replace(pixels);
  setString(ds, gdcm::Tag(0x0028, 0x0004), gdcm::VR::CS,
            gdcm::PhotometricInterpretation::GetPIString(out.GetPhotometricInterpretation()));
  if (layout.samplesPerPixel > 1) setUnsignedShort(ds, gdcm::Tag(0x0028, 0x0006), out.GetPlanarConfiguration());
  dicom.syntax = syntax;
}

// Combinations GDCM cannot do or would do wrong, refused before GDCM sees
// them (some of its codecs assert, and Debian builds it with assertions on).
void checkSupported(const PixelLayout& l, const std::string& target) {
  const std::string what = " (" + l.describe() + ")";
  const std::string name = transferSyntaxName(target);
  if (l.bitsAllocated != 8 && l.bitsAllocated != 16)
    throw TranscodeError(name + " is produced here from 8- or 16-bit allocated samples only" + what);
  if (l.samplesPerPixel != 1 && l.samplesPerPixel != 3)
    throw TranscodeError(name + " takes 1 or 3 samples per pixel" + what);
  const bool lossyJpeg = isLossyJpeg(target);
  if (target == ts::kJPEGBaseline8Bit && l.bitsStored > 8)
    throw TranscodeError("JPEGBaseline8Bit holds 8-bit samples only; use JPEG2000 or JPEGLSNearLossless" + what);
  if (target == ts::kJPEGExtended12Bit && l.bitsAllocated > 8) {
    // GDCM 3.0 picks its IJG coder by BitsAllocated: 12 bits stored in 16
    // come out as a 16-bit-precision lossy stream, which is not DICOM
    // process 4 and which dcmdjpeg and others reject.
    throw TranscodeError("JPEGExtended12Bit is produced here from 8-bit images only (GDCM would write a 16-bit "
                         "lossy JPEG that receivers reject); use JPEG2000 or JPEGLSNearLossless" + what);
  }
  if (lossyJpeg && l.pixelRepresentation == 1)
    throw TranscodeError(name + " codes unsigned samples only (signed pixels would wrap around zero); "
                         "use JPEG2000 or JPEGLSNearLossless" + what);
  if (lossyJpeg && l.samplesPerPixel == 3 && l.photometric != "RGB")
    throw TranscodeError(name + " here takes colour as RGB only, not " + l.photometric + what);
  if (l.photometric == "PALETTE COLOR" && lossyJpeg)
    throw TranscodeError(name + " is lossy and would corrupt palette indices" + what);
}

}  // namespace

bool GdcmFamily::canDecode(const std::string& syntax) const {
  if (isJpegLs(syntax)) return false;
  const gdcm::TransferSyntax t = gdcmSyntax(syntax);
  const bool jpeg2000 = t == gdcm::TransferSyntax::JPEG2000Lossless || t == gdcm::TransferSyntax::JPEG2000 ||
                        t == gdcm::TransferSyntax::JPEG2000Part2Lossless || t == gdcm::TransferSyntax::JPEG2000Part2;
  return t.IsValid() && !jpeg2000;
}

bool GdcmFamily::canEncode(const std::string& syntax) const {
  return syntax == ts::kJPEGBaseline8Bit || syntax == ts::kJPEGExtended12Bit || syntax == ts::kJPEGLossless ||
         syntax == ts::kJPEGLosslessSV1;
}

void GdcmFamily::decode(DicomFile& dicom, const PixelLayout& layout) const {
  if (isJpeg(dicom.syntax)) {
    const std::vector<std::string> frames = framesOf(dicom.dataset().GetDataElement(kPixelDataTag), layout.frames);
    for (unsigned i = 0; i < frames.size(); ++i) checkJpegHeader(frames[i], i, layout, dicom.syntax);
  }
  // GDCM asserts when BitsStored < BitsAllocated = 8 after decoding; the
  // decoder does not need BitsStored (the bits are copied as they come).
  PixelLayout decoding = layout;
  decoding.bitsStored = layout.bitsAllocated;
  decoding.highBit = layout.bitsAllocated - 1;
  // Image::GetBuffer decodes, as ImageChangeTransferSyntax::Change would do
  // for a native target (it calls GetBuffer, then copies). Change is not
  // used here: when the codec fails it returns without freeing the buffer
  // it allocated for the decoded image (GDCM 3.0.21; fuzz_transcode's
  // LeakSanitizer findings), so a worker would lose an image's size of
  // memory per undecodable file. GDCM's decoders adjust the image's
  // planar configuration and photometric interpretation themselves; what
  // Change does on top for a native result is done here: lossy JPEG's
  // subsampled YBR comes out upsampled (YBR_FULL), JPEG 2000's YBR_RCT/ICT
  // as RGB.
  const gdcm::SmartPointer<gdcm::Image> image = imageOver(dicom, decoding);
  std::vector<char> decoded(image->GetBufferLength());
  if (decoded.empty() || !image->GetBuffer(decoded.data()))
    throw TranscodeError("GDCM could not decode the " + transferSyntaxName(dicom.syntax) + " pixel data (" +
                         layout.describe() + ")");
  gdcm::DataElement pixels(kPixelDataTag);
  pixels.SetByteValue(decoded.data(), static_cast<uint32_t>(decoded.size()));
  image->SetDataElement(pixels);
  image->SetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  switch (image->GetPhotometricInterpretation()) {
    case gdcm::PhotometricInterpretation::YBR_FULL_422:
    case gdcm::PhotometricInterpretation::YBR_PARTIAL_422:
      image->SetPhotometricInterpretation(gdcm::PhotometricInterpretation::YBR_FULL);
      break;
    case gdcm::PhotometricInterpretation::YBR_RCT:
    case gdcm::PhotometricInterpretation::YBR_ICT:
      image->SetPhotometricInterpretation(gdcm::PhotometricInterpretation::RGB);
      break;
    default:
      break;
  }
  takeResult(dicom, layout, *image, ts::kExplicitVRLittleEndian);
}

void GdcmFamily::encode(DicomFile& dicom, const PixelLayout& original, const std::string& target,
                        const TranscodeOptions& options) const {
  PixelLayout layout = original;
  if (isLossyJpeg(target) && layout.samplesPerPixel == 3 && layout.bitsAllocated == 8 && layout.photometric == "YBR_FULL")
    ybrFullToRgb(dicom, layout);
  checkSupported(layout, target);
  gdcm::ImageChangeTransferSyntax change;
  change.SetTransferSyntax(gdcmSyntax(target));
  const gdcm::SmartPointer<gdcm::Image> input = imageOver(dicom, layout);
  change.SetInput(*input);

  // Codecs with settings live here, one per call (GDCM codecs keep state).
  gdcm::JPEGCodec jpeg;
  if (isLossyJpeg(target)) {
    jpeg.SetLossless(false);
    jpeg.SetQuality(options.quality > 0 ? std::min(options.quality, 100) : 90);
    change.SetUserCodec(&jpeg);
  }
  if (!change.Change())
    throw TranscodeError("GDCM could not encode the image as " + transferSyntaxName(target) + " (" +
                         layout.describe() + ")");
  takeResult(dicom, layout, change.GetOutput(), target);
  if (isLossyJpeg(target) && layout.samplesPerPixel == 3) {
    // GDCM's IJG coder turns RGB into chroma-subsampled YCbCr (2x2) but
    // leaves the attribute at RGB; PS3.5 8.2.1 wants YBR_FULL_422 for
    // subsampled colour JPEG, always colour-by-pixel.
    setString(dicom.dataset(), gdcm::Tag(0x0028, 0x0004), gdcm::VR::CS, "YBR_FULL_422");
    setUnsignedShort(dicom.dataset(), gdcm::Tag(0x0028, 0x0006), 0);
  }
}

}  // namespace router::codecs
