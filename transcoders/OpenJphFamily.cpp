// HTJ2K with OpenJPH 0.9.0: one codestream per frame, one fragment each;
// every header is checked against the dataset before any sample is copied.
#include "transcoders/OpenJphFamily.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>

// OpenJPH's headers use its types without including their definitions.
#include <openjph/ojph_arch.h>
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

#include "transcoders/Encapsulation.h"
#include "transcoders/Jpeg2000Pixels.h"
#include "transcoders/TransferSyntax.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "native pixel data is read and written as little endian words: little-endian hosts only"
#endif

namespace router::codecs {

namespace {

// OpenJPH 0.9.0 reports an error by printing it to its error stream and
// then throwing std::runtime_error("ojph error"); configure_error() has no
// effect in this release. Its error stream is therefore a stdio cookie file,
// unbuffered, that appends what is printed to a per-thread buffer, from
// which the TranscodeError takes the words. No system call is involved.
thread_local std::string t_openJphMessage;

ssize_t captureMessage(void*, const char* text, size_t size) {
  if (t_openJphMessage.size() < 400) t_openJphMessage.append(text, std::min<size_t>(size, 400));
  return static_cast<ssize_t>(size);
}

ssize_t discardMessage(void*, const char*, size_t size) {
  return static_cast<ssize_t>(size);
}

// OpenJPH 0.9.0 writes warnings to their stream without checking for
// nullptr (a warning on a corrupt code-block then crashes in fprintf), so
// warnings and info go to a stream that discards them.
void installMessageStreams() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Both live as long as the process.
    FILE* errors =
        fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, captureMessage, nullptr, nullptr});
    FILE* nothing =
        fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, discardMessage, nullptr, nullptr});
    if (errors) {
      setvbuf(errors, nullptr, _IONBF, 0);
      ojph::set_error_stream(errors);
    }
    if (nothing) {
      ojph::set_warning_stream(nothing);
      ojph::set_info_stream(nothing);
    }
  });
}

// What OpenJPH said last on this thread, without its source location:
// "Rsiz bit 14 not set (this is not a JPH file) (OpenJPH error 0x00050044)".
std::string lastOpenJphMessage(const std::exception& e) {
  std::string text = t_openJphMessage;
  t_openJphMessage.clear();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return e.what();
  std::string code;
  if (text.rfind("ojph error ", 0) == 0) {
    code = text.substr(11, text.find(' ', 11) - 11);
    const size_t colon = text.find(": ");
    if (colon != std::string::npos) text = text.substr(colon + 2);
  }
  return code.empty() ? text : text + " (OpenJPH error " + code + ")";
}

bool isHtj2k(const std::string& uid) {
  return uid == ts::kHTJ2KLossless || uid == ts::kHTJ2KLosslessRPCL || uid == ts::kHTJ2K;
}

void checkSupported(const PixelLayout& l, const std::string& name, bool lossy) {
  const std::string what = " (" + l.describe() + ")";
  if (l.bitsAllocated != 8 && l.bitsAllocated != 16)
    throw TranscodeError(name + " is coded here from 8- or 16-bit allocated samples only" + what);
  if (l.samplesPerPixel != 1 && l.samplesPerPixel != 3)
    throw TranscodeError(name + " takes 1 or 3 samples per pixel" + what);
  if (lossy && l.photometric == "PALETTE COLOR")
    throw TranscodeError(name + " is lossy and would corrupt palette indices" + what);
}

// Wavelet levels: at most 5 (OpenJPH's default), and none that would leave
// a side shorter than 8 samples: OpenJPH 0.9.0's 9/7 path on a 2x3 image
// decomposed once came back with errors of half the 8-bit range.
unsigned decompositionsFor(unsigned columns, unsigned rows) {
  unsigned levels = 0;
  for (unsigned side = std::min(columns, rows); side >= 16 && levels < 5; side >>= 1) ++levels;
  return levels;
}

std::string encodeFrame(const PixelLayout& l, const unsigned char* frame, unsigned precision,
                        bool lossy, int quality) {
  const unsigned components = l.samplesPerPixel;
  const size_t pixels = size_t(l.rows) * l.columns;
  ojph::mem_outfile out;  // outlives the codestream that writes to it
  ojph::codestream codestream;
  ojph::param_siz siz = codestream.access_siz();
  siz.set_image_extent(ojph::point(l.columns, l.rows));
  siz.set_num_components(components);
  for (unsigned c = 0; c < components; ++c)
    siz.set_component(c, ojph::point(1, 1), precision, l.pixelRepresentation == 1);
  siz.set_image_offset(ojph::point(0, 0));
  siz.set_tile_size(ojph::size(l.columns, l.rows));  // one tile
  siz.set_tile_offset(ojph::point(0, 0));
  ojph::param_cod cod = codestream.access_cod();
  cod.set_num_decomposition(decompositionsFor(l.columns, l.rows));
  cod.set_block_dims(64, 64);
  cod.set_progression_order("RPCL");
  cod.set_color_transform(false);  // PhotometricInterpretation stays
  cod.set_reversible(!lossy);
  // OpenJPH takes the step relative to the sample range (see the header).
  if (lossy)
    codestream.access_qcd().set_irrev_quant(
        static_cast<float>(std::exp2((100 - quality) / 10.0 - precision)));
  codestream.set_planar(true);

  out.open();
  codestream.write_headers(&out);
  // OpenJPH asks for lines in its order (by component here); each
  // component's rows are handed over top to bottom.
  const unsigned shift = 32 - precision;
  std::vector<unsigned> nextRow(components, 0);
  ojph::ui32 component = 0;
  ojph::line_buf* line = codestream.exchange(nullptr, component);
  for (size_t lines = 0; lines < size_t(components) * l.rows; ++lines) {
    if (!line || component >= components || nextRow[component] >= l.rows)
      throw TranscodeError("OpenJPH asked for an unexpected image line while encoding " +
                           l.describe());
    const size_t row = nextRow[component]++;
    for (size_t x = 0; x < l.columns; ++x) {
      const size_t p = row * l.columns + x;
      const size_t index =
          l.planarConfiguration == 1 ? component * pixels + p : p * components + component;
      const uint32_t raw = sampleAt(l, frame, index);
      // Signed: sign-extended from the coded precision.
      line->i32[x] = l.pixelRepresentation == 1 ? static_cast<int32_t>(raw << shift) >> shift
                                                : static_cast<int32_t>(raw);
    }
    line = codestream.exchange(line, component);
  }
  codestream.flush();
  const std::string bytes(reinterpret_cast<const char*>(out.get_data()),
                          static_cast<size_t>(out.tell()));
  codestream.close();  // also closes (frees) out
  return bytes;
}

std::string hex2(const std::string& bytes, size_t at) {
  char text[8];
  std::snprintf(text, sizeof text, "%02X %02X",
                at < bytes.size() ? unsigned(uint8_t(bytes[at])) : 0u,
                at + 1 < bytes.size() ? unsigned(uint8_t(bytes[at + 1])) : 0u);
  return text;
}

// SOC + SIZ at the start, EOC at the end (after the fragment's pad byte,
// or the zeros some writers pad with):
// OpenJPH 0.9.0 decodes a cut-off codestream without complaint, as if the
// missing code-blocks were zero.
void checkFraming(const std::string& bytes, const std::string& frame) {
  if (bytes.size() < 4 || uint8_t(bytes[0]) != 0xFF || uint8_t(bytes[1]) != 0x4F ||
      uint8_t(bytes[2]) != 0xFF || uint8_t(bytes[3]) != 0x51)
    throw TranscodeError(frame + " is not a JPEG 2000 codestream (it starts " + hex2(bytes, 0) +
                         ", not FF 4F FF 51)");
  size_t end = bytes.size();
  while (end > 4 && bytes[end - 1] == '\0') --end;
  if (end < 6 || uint8_t(bytes[end - 2]) != 0xFF || uint8_t(bytes[end - 1]) != 0xD9)
    throw TranscodeError(frame + " is truncated: it does not end with the EOC marker (FF D9)");
}

unsigned be16(const std::string& bytes, size_t at) {
  return unsigned(uint8_t(bytes[at])) << 8 | uint8_t(bytes[at + 1]);
}

// The main header's quantisation (QCD) must cover every subband the coding
// style (COD, COC) decomposes into: OpenJPH 0.9.0 asserts, and so aborts,
// on a QCD shorter than that (found by fuzz_transcode). Walks the marker
// segments from SIZ to the first tile-part (SOT).
void checkQuantisation(const std::string& bytes, const std::string& frame) {
  unsigned maxDecompositions = 0;
  int qcdDecompositions = -1;
  size_t at = 2;  // after SOC
  while (at + 4 <= bytes.size() && uint8_t(bytes[at]) == 0xFF) {
    const unsigned marker = uint8_t(bytes[at + 1]);
    if (marker == 0x90) break;  // SOT: the main header ends
    const unsigned length = be16(bytes, at + 2);
    if (length < 2 || at + 2 + length > bytes.size())
      throw TranscodeError(frame + ": the marker segment at byte " + std::to_string(at) +
                           " runs past the end of the codestream");
    const size_t seg = at + 2;  // its length field
    if (marker == 0x52 && length >= 10) {  // COD: Lcod Scod SGcod(4) decompositions
      maxDecompositions = std::max(maxDecompositions, unsigned(uint8_t(bytes[seg + 7])));
    } else if (marker == 0x53 && length >= 5) {  // COC (one-byte component index): Lcoc Ccoc Scoc decompositions
      maxDecompositions = std::max(maxDecompositions, unsigned(uint8_t(bytes[seg + 4])));
    } else if (marker == 0x5C && length >= 3) {  // QCD: Lqcd Sqcd SPqcd...
      const unsigned style = uint8_t(bytes[seg + 2]) & 0x1F;
      const unsigned values = style == 0 ? length - 3 : style == 2 ? (length - 3) / 2 : 0;
      qcdDecompositions = style == 1 ? 255 : values >= 1 ? int((values - 1) / 3) : -1;
    }
    at += 2 + length;
  }
  if (qcdDecompositions >= 0 && unsigned(qcdDecompositions) < maxDecompositions)
    throw TranscodeError(frame + ": its QCD marker quantises " + std::to_string(qcdDecompositions) +
                         " decomposition level(s) but its coding style asks for " +
                         std::to_string(maxDecompositions) + "; the codestream is damaged");
}

std::string decodeFrame(const PixelLayout& l, const std::string& bytes, unsigned index) {
  const std::string frame = "HTJ2K frame " + std::to_string(index + 1);
  checkFraming(bytes, frame);
  checkQuantisation(bytes, frame);
  ojph::mem_infile in;
  in.open(reinterpret_cast<const ojph::ui8*>(bytes.data()), bytes.size());
  ojph::codestream codestream;
  codestream.read_headers(&in);

  ojph::param_siz siz = codestream.access_siz();
  const ojph::point extent = siz.get_image_extent(), offset = siz.get_image_offset();
  const unsigned components = siz.get_num_components();
  bool matches = components == l.samplesPerPixel && offset.x == 0 && offset.y == 0 &&
                 extent.x == l.columns && extent.y == l.rows;
  for (unsigned c = 0; matches && c < components; ++c) {
    const ojph::point down = siz.get_downsampling(c);
    matches = down.x == 1 && down.y == 1 && siz.get_bit_depth(c) >= 1 &&
              siz.get_bit_depth(c) <= l.bitsAllocated && siz.get_recon_width(c) == l.columns &&
              siz.get_recon_height(c) == l.rows;
  }
  if (!matches)
    throw TranscodeError(frame + " is " + std::to_string(extent.x - offset.x) + "x" +
                         std::to_string(extent.y - offset.y) + ", " + std::to_string(components) +
                         " component(s) of " +
                         std::to_string(components ? siz.get_bit_depth(0) : 0) +
                         " bits; the dataset says " + l.describe());

  codestream.set_planar(false);
  codestream.create();
  std::string out(l.frameBytes(), '\0');
  auto* target = reinterpret_cast<unsigned char*>(out.data());
  std::vector<unsigned> nextRow(components, 0);
  for (size_t lines = 0; lines < size_t(components) * l.rows; ++lines) {
    ojph::ui32 c = 0;
    ojph::line_buf* line = codestream.pull(c);
    if (!line || c >= components || nextRow[c] >= l.rows || line->size < l.columns)
      throw TranscodeError("OpenJPH gave an unexpected image line while decoding " + frame);
    const size_t row = nextRow[c]++;
    const unsigned depth = siz.get_bit_depth(c);
    const bool isSigned = siz.is_signed(c);
    // Lossy results may overshoot the range a little: clamp.
    const int32_t lowest = isSigned ? -(int32_t{1} << (depth - 1)) : 0;
    const int32_t highest =
        isSigned ? (int32_t{1} << (depth - 1)) - 1 : int32_t((uint32_t{1} << depth) - 1);
    for (size_t x = 0; x < l.columns; ++x) {
      const uint32_t word = static_cast<uint32_t>(std::clamp(line->i32[x], lowest, highest));
      const size_t at = (row * l.columns + x) * components + c;  // colour by pixel
      if (l.bitsAllocated == 8) {
        target[at] = static_cast<unsigned char>(word);
      } else {
        target[2 * at] = static_cast<unsigned char>(word & 0xff);
        target[2 * at + 1] = static_cast<unsigned char>((word >> 8) & 0xff);
      }
    }
  }
  codestream.close();
  return out;
}

}  // namespace

OpenJphFamily::OpenJphFamily() {
  installMessageStreams();
}

bool OpenJphFamily::canDecode(const std::string& syntax) const {
  return isHtj2k(syntax);
}

bool OpenJphFamily::canEncode(const std::string& syntax) const {
  return syntax == ts::kHTJ2KLossless || syntax == ts::kHTJ2K;
}

void OpenJphFamily::decode(DicomFile& dicom, const PixelLayout& layout) const {
  checkSupported(layout, transferSyntaxName(dicom.syntax), false);
  const std::vector<std::string> streams =
      framesOf(dicom.dataset().GetDataElement(kPixelDataTag), layout.frames);
  std::string pixels;
  pixels.reserve(layout.frameBytes() * layout.frames);
  for (unsigned i = 0; i < streams.size(); ++i) {
    t_openJphMessage.clear();
    try {
      pixels += decodeFrame(layout, streams[i], i);
    } catch (const TranscodeError&) {
      throw;
    } catch (const std::exception& e) {
      throw TranscodeError("OpenJPH could not decode HTJ2K frame " + std::to_string(i + 1) + " (" +
                           layout.describe() + "): " + lastOpenJphMessage(e));
    }
  }
  setDecodedPixels(dicom, layout, std::move(pixels));
}

void OpenJphFamily::encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
                           const TranscodeOptions& options) const {
  const bool lossy = target == ts::kHTJ2K;
  const std::string name = transferSyntaxName(target);
  if (!canEncode(target)) throw TranscodeError("OpenJPH 0.9.0 cannot write " + name);
  checkSupported(layout, name, lossy);
  const gdcm::ByteValue* value = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const size_t frameBytes = layout.frameBytes();
  const size_t needed = frameBytes * layout.frames;
  if (!value || !value->GetPointer() || value->GetLength() < needed)
    throw TranscodeError("PixelData holds " +
                         std::to_string(value ? uint32_t(value->GetLength()) : 0u) + " bytes; " +
                         layout.describe() + " needs " + std::to_string(needed));
  const int quality = options.quality > 0 ? std::min(options.quality, 100) : 90;
  const auto* pixels = reinterpret_cast<const unsigned char*>(value->GetPointer());
  const unsigned precision = codedPrecision(layout, pixels, needed / layout.bytesPerSample());
  std::vector<std::string> streams;
  t_openJphMessage.clear();
  try {
    for (unsigned f = 0; f < layout.frames; ++f)
      streams.push_back(encodeFrame(layout, pixels + f * frameBytes, precision, lossy, quality));
  } catch (const TranscodeError&) {
    throw;
  } catch (const std::exception& e) {
    throw TranscodeError("OpenJPH could not encode the image as " + name + " (" +
                         layout.describe() + "): " + lastOpenJphMessage(e));
  }
  gdcm::DataSet& ds = dicom.dataset();
  ds.Replace(encapsulate(streams));
  // PS3.5 8.2.14: the codestream defines the component order; 0 here.
  if (layout.samplesPerPixel == 3) setUnsignedShort(ds, gdcm::Tag(0x0028, 0x0006), 0);
  dicom.syntax = target;
}

}  // namespace router::codecs
