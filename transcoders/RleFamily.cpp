// DICOM RLE: per frame a 64-byte header (segment count and offsets), then one
// PackBits segment per byte plane: for each sample, most significant byte
// first. Every row is coded on its own and every segment has even length.
#include "transcoders/RleFamily.h"

#include "transcoders/Encapsulation.h"
#include "transcoders/TransferSyntax.h"

namespace router::codecs {

namespace {

// PackBits of one row: runs of 3..128 equal bytes as (257-n, byte), other
// bytes as literal blocks of 1..128 (n-1, bytes...).
void packRow(const std::vector<uint8_t>& row, std::string& out) {
  size_t i = 0;
  while (i < row.size()) {
    size_t run = 1;
    while (i + run < row.size() && run < 128 && row[i + run] == row[i]) ++run;
    if (run >= 3) {
      out.push_back(static_cast<char>(257 - run));
      out.push_back(static_cast<char>(row[i]));
      i += run;
      continue;
    }
    size_t literal = 0;
    while (i + literal < row.size() && literal < 128) {
      const size_t at = i + literal;
      if (at + 2 < row.size() && row[at] == row[at + 1] && row[at] == row[at + 2]) break;
      ++literal;
    }
    out.push_back(static_cast<char>(literal - 1));
    out.append(reinterpret_cast<const char*>(&row[i]), literal);
    i += literal;
  }
}

void putUint32(std::string& s, size_t at, uint32_t v) {
  for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>((v >> (8 * b)) & 0xff);
}

std::string encodeFrame(const PixelLayout& l, const uint8_t* frame) {
  const size_t bytes = l.bytesPerSample();
  const size_t samples = l.samplesPerPixel;
  const size_t pixels = size_t(l.rows) * l.columns;
  const size_t segments = samples * bytes;
  std::string out(64, '\0');
  putUint32(out, 0, static_cast<uint32_t>(segments));
  std::vector<uint8_t> row(l.columns);
  for (size_t s = 0; s < samples; ++s) {
    for (size_t b = 0; b < bytes; ++b) {
      putUint32(out, 4 * (1 + s * bytes + b), static_cast<uint32_t>(out.size()));
      const size_t byteInSample = bytes - 1 - b;  // most significant first; data is little endian
      for (size_t r = 0; r < l.rows; ++r) {
        for (size_t c = 0; c < l.columns; ++c) {
          const size_t pixel = r * l.columns + c;
          const size_t sampleIndex = l.planarConfiguration == 1 ? s * pixels + pixel : pixel * samples + s;
          row[c] = frame[sampleIndex * bytes + byteInSample];
        }
        packRow(row, out);
      }
      if (out.size() % 2) out.push_back('\0');
    }
  }
  return out;
}

}  // namespace

bool RleFamily::canEncode(const std::string& syntax) const { return syntax == ts::kRLELossless; }

void RleFamily::decode(DicomFile&, const PixelLayout&) const {
  throw TranscodeError("RLE decoding is GDCM's job");  // canDecode() is false; never called
}

void RleFamily::encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
                       const TranscodeOptions&) const {
  const std::string what = " (" + layout.describe() + ")";
  if (layout.bitsAllocated != 8 && layout.bitsAllocated != 16)
    throw TranscodeError("RLELossless is produced here from 8- or 16-bit allocated samples only" + what);
  if (layout.samplesPerPixel != 1 && layout.samplesPerPixel != 3)
    throw TranscodeError("RLELossless takes 1 or 3 samples per pixel" + what);
  const gdcm::ByteValue* value = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const size_t frameBytes = layout.frameBytes();
  if (!value || value->GetLength() < frameBytes * layout.frames)
    throw TranscodeError("PixelData is shorter than the image" + what);
  const auto* pixels = reinterpret_cast<const uint8_t*>(value->GetPointer());
  std::vector<std::string> frames;
  for (unsigned f = 0; f < layout.frames; ++f) frames.push_back(encodeFrame(layout, pixels + f * frameBytes));
  dicom.dataset().Replace(encapsulate(frames));
  dicom.syntax = target;
}

}  // namespace router::codecs
