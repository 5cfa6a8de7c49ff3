// JPEG 2000 with OpenJPEG 2.5: one J2K codestream per frame, one fragment
// each; every header is checked against the dataset before decoding.
#include "transcoders/OpenJpegFamily.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <openjpeg.h>

#include "transcoders/Encapsulation.h"
#include "transcoders/Jpeg2000Pixels.h"
#include "transcoders/TransferSyntax.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "native pixel data is read and written as little endian words: little-endian hosts only"
#endif

namespace router::codecs {

namespace {

// JPEG 2000 Part 2 (multi-component) syntaxes: decoded when the codestream
// sticks to what OpenJPEG knows, never produced.
constexpr const char* kJPEG2000Part2Lossless = "1.2.840.10008.1.2.4.92";
constexpr const char* kJPEG2000Part2 = "1.2.840.10008.1.2.4.93";

struct CodecDeleter {
  void operator()(opj_codec_t* codec) const { opj_destroy_codec(codec); }
};
struct StreamDeleter {
  void operator()(opj_stream_t* stream) const { opj_stream_destroy(stream); }
};
struct ImageDeleter {
  void operator()(opj_image_t* image) const { opj_image_destroy(image); }
};
using Codec = std::unique_ptr<opj_codec_t, CodecDeleter>;
using Stream = std::unique_ptr<opj_stream_t, StreamDeleter>;
using Image = std::unique_ptr<opj_image_t, ImageDeleter>;

// What OpenJPEG reported, for the TranscodeError (its messages end in "\n").
struct Messages {
  std::string errors;
};

void collectError(const char* message, void* data) {
  auto& errors = static_cast<Messages*>(data)->errors;
  if (errors.size() > 400) return;
  std::string text = message ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  errors += (errors.empty() ? "" : "; ") + text;
}

void ignore(const char*, void*) {}

void attach(opj_codec_t* codec, Messages& messages) {
  opj_set_error_handler(codec, collectError, &messages);
  opj_set_warning_handler(codec, ignore, nullptr);
  opj_set_info_handler(codec, ignore, nullptr);
}

std::string because(const Messages& messages) {
  return messages.errors.empty() ? std::string() : ": " + messages.errors;
}

// Reading from memory; OpenJPEG never sees past `size`.
struct Source {
  const unsigned char* data;
  size_t size;
  size_t position;
};

OPJ_SIZE_T sourceRead(void* buffer, OPJ_SIZE_T bytes, void* user) {
  auto& s = *static_cast<Source*>(user);
  if (s.position >= s.size) return static_cast<OPJ_SIZE_T>(-1);
  const size_t n = std::min<size_t>(bytes, s.size - s.position);
  std::memcpy(buffer, s.data + s.position, n);
  s.position += n;
  return n;
}

OPJ_OFF_T sourceSkip(OPJ_OFF_T bytes, void* user) {
  auto& s = *static_cast<Source*>(user);
  if (bytes < 0) {
    if (static_cast<uint64_t>(-bytes) > s.position) return -1;
    s.position -= static_cast<size_t>(-bytes);
    return bytes;
  }
  if (static_cast<uint64_t>(bytes) > s.size - s.position) {
    s.position = s.size;
    return -1;
  }
  s.position += static_cast<size_t>(bytes);
  return bytes;
}

OPJ_BOOL sourceSeek(OPJ_OFF_T to, void* user) {
  auto& s = *static_cast<Source*>(user);
  if (to < 0 || static_cast<uint64_t>(to) > s.size) return OPJ_FALSE;
  s.position = static_cast<size_t>(to);
  return OPJ_TRUE;
}

// Writing to memory that grows as needed.
struct Sink {
  std::string data;
  size_t position = 0;
};

void growTo(Sink& s, size_t size) {
  if (s.data.size() < size) s.data.resize(size, '\0');
}

OPJ_SIZE_T sinkWrite(void* buffer, OPJ_SIZE_T bytes, void* user) {
  auto& s = *static_cast<Sink*>(user);
  growTo(s, s.position + bytes);
  std::memcpy(&s.data[s.position], buffer, bytes);
  s.position += bytes;
  return bytes;
}

OPJ_OFF_T sinkSkip(OPJ_OFF_T bytes, void* user) {
  auto& s = *static_cast<Sink*>(user);
  if (bytes < 0 && static_cast<uint64_t>(-bytes) > s.position) return -1;
  s.position = static_cast<size_t>(static_cast<OPJ_OFF_T>(s.position) + bytes);
  growTo(s, s.position);
  return bytes;
}

OPJ_BOOL sinkSeek(OPJ_OFF_T to, void* user) {
  auto& s = *static_cast<Sink*>(user);
  if (to < 0) return OPJ_FALSE;
  s.position = static_cast<size_t>(to);
  growTo(s, s.position);
  return OPJ_TRUE;
}

bool isJ2k(const std::string& uid) {
  return uid == ts::kJPEG2000Lossless || uid == ts::kJPEG2000 || uid == kJPEG2000Part2Lossless || uid == kJPEG2000Part2;
}

void checkSupported(const PixelLayout& l, const std::string& name, bool lossy) {
  const std::string what = " (" + l.describe() + ")";
  if (l.bitsAllocated != 8 && l.bitsAllocated != 16)
    throw TranscodeError(name + " is coded here from 8- or 16-bit allocated samples only" + what);
  if (l.samplesPerPixel != 1 && l.samplesPerPixel != 3) throw TranscodeError(name + " takes 1 or 3 samples per pixel" + what);
  if (lossy && l.photometric == "PALETTE COLOR")
    throw TranscodeError(name + " is lossy and would corrupt palette indices" + what);
}

// Resolution levels: at most 6 (OpenJPEG's default), and no more than the
// smaller side can be halved, which tiny images need.
int resolutionsFor(unsigned columns, unsigned rows) {
  int levels = 1;
  for (unsigned side = std::min(columns, rows); side > 1 && levels < 6; side >>= 1) ++levels;
  return levels;
}

std::string encodeFrame(const PixelLayout& l, const unsigned char* frame, int precision, bool lossy, double ratio) {
  const unsigned components = l.samplesPerPixel;
  const size_t pixels = size_t(l.rows) * l.columns;
  opj_image_cmptparm_t parameters[3];
  std::memset(parameters, 0, sizeof parameters);
  for (unsigned c = 0; c < components; ++c) {
    parameters[c].dx = parameters[c].dy = 1;
    parameters[c].w = l.columns;
    parameters[c].h = l.rows;
    parameters[c].prec = static_cast<OPJ_UINT32>(precision);
    parameters[c].sgnd = l.pixelRepresentation;
  }
  Image image(opj_image_create(components, parameters, components == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY));
  if (!image) throw TranscodeError("OpenJPEG could not allocate a " + l.describe() + " image");
  image->x0 = image->y0 = 0;
  image->x1 = l.columns;
  image->y1 = l.rows;
  const unsigned shift = 32 - static_cast<unsigned>(precision);
  for (unsigned c = 0; c < components; ++c) {
    OPJ_INT32* data = image->comps[c].data;
    for (size_t p = 0; p < pixels; ++p) {
      const size_t index = l.planarConfiguration == 1 ? c * pixels + p : p * components + c;
      const uint32_t raw = sampleAt(l, frame, index);
      // Signed: sign-extended from the coded precision.
      data[p] = l.pixelRepresentation == 1 ? static_cast<int32_t>(raw << shift) >> shift : static_cast<int32_t>(raw);
    }
  }

  opj_cparameters_t settings;
  opj_set_default_encoder_parameters(&settings);
  settings.tcp_numlayers = 1;
  settings.tcp_rates[0] = lossy ? static_cast<float>(ratio) : 0.0f;  // 0: lossless
  settings.cp_disto_alloc = 1;
  settings.irreversible = lossy ? 1 : 0;
  settings.tcp_mct = 0;  // no colour transform: PhotometricInterpretation stays
  settings.numresolution = resolutionsFor(l.columns, l.rows);

  Messages messages;
  Codec codec(opj_create_compress(OPJ_CODEC_J2K));
  if (!codec) throw TranscodeError("OpenJPEG could not create an encoder");
  attach(codec.get(), messages);
  if (!opj_setup_encoder(codec.get(), &settings, image.get()))
    throw TranscodeError("OpenJPEG refused the encoder settings for " + l.describe() + because(messages));
  Sink sink;
  Stream stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_FALSE));
  if (!stream) throw TranscodeError("OpenJPEG could not create an output stream");
  opj_stream_set_user_data(stream.get(), &sink, nullptr);
  opj_stream_set_write_function(stream.get(), sinkWrite);
  opj_stream_set_skip_function(stream.get(), sinkSkip);
  opj_stream_set_seek_function(stream.get(), sinkSeek);
  if (!opj_start_compress(codec.get(), image.get(), stream.get()) || !opj_encode(codec.get(), stream.get()) ||
      !opj_end_compress(codec.get(), stream.get()))
    throw TranscodeError("OpenJPEG could not encode the image (" + l.describe() + ")" + because(messages));
  return std::move(sink.data);
}

// The codestream header must describe exactly the image the dataset does.
void checkHeader(const PixelLayout& l, const opj_image_t& image, unsigned index) {
  bool matches = image.numcomps == l.samplesPerPixel && image.comps != nullptr;
  for (OPJ_UINT32 c = 0; matches && c < image.numcomps; ++c) {
    const opj_image_comp_t& comp = image.comps[c];
    matches = comp.w == l.columns && comp.h == l.rows && comp.dx == 1 && comp.dy == 1 && comp.prec >= 1 &&
              comp.prec <= l.bitsAllocated;
  }
  if (matches) return;
  std::string found = std::to_string(image.numcomps) + (image.numcomps == 1 ? " component" : " components");
  if (image.numcomps > 0 && image.comps) {
    const opj_image_comp_t& comp = image.comps[0];
    found = std::to_string(comp.w) + "x" + std::to_string(comp.h) + ", " + found + " of " +
            std::to_string(comp.prec) + " bits" + (comp.dx != 1 || comp.dy != 1 ? ", subsampled" : "");
  }
  throw TranscodeError("JPEG 2000 frame " + std::to_string(index + 1) + " is " + found + "; the dataset says " +
                       l.describe());
}

std::string decodeFrame(const PixelLayout& l, const std::string& bytes, unsigned index) {
  static const unsigned char kJp2Signature[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  OPJ_CODEC_FORMAT format;
  if (bytes.size() >= sizeof kJp2Signature && std::memcmp(data, kJp2Signature, sizeof kJp2Signature) == 0) {
    format = OPJ_CODEC_JP2;  // a JP2 file instead of a bare codestream: seen in the wild
  } else if (bytes.size() >= 4 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51) {
    format = OPJ_CODEC_J2K;
  } else {
    char start[16];
    std::snprintf(start, sizeof start, "%02X %02X", bytes.size() > 0 ? data[0] : 0, bytes.size() > 1 ? data[1] : 0);
    throw TranscodeError("JPEG 2000 frame " + std::to_string(index + 1) + " is not a JPEG 2000 codestream (it starts " +
                         start + ", not FF 4F FF 51)");
  }

  Messages messages;
  Codec codec(opj_create_decompress(format));
  if (!codec) throw TranscodeError("OpenJPEG could not create a decoder");
  attach(codec.get(), messages);
  opj_dparameters_t settings;
  opj_set_default_decoder_parameters(&settings);
  if (!opj_setup_decoder(codec.get(), &settings)) throw TranscodeError("OpenJPEG refused the decoder settings");
  opj_decoder_set_strict_mode(codec.get(), OPJ_TRUE);  // a truncated codestream is an error, not a blur

  Source source{data, bytes.size(), 0};
  Stream stream(opj_stream_create(std::min<size_t>(bytes.size(), OPJ_J2K_STREAM_CHUNK_SIZE), OPJ_TRUE));
  if (!stream) throw TranscodeError("OpenJPEG could not create an input stream");
  opj_stream_set_user_data(stream.get(), &source, nullptr);
  opj_stream_set_user_data_length(stream.get(), bytes.size());
  opj_stream_set_read_function(stream.get(), sourceRead);
  opj_stream_set_skip_function(stream.get(), sourceSkip);
  opj_stream_set_seek_function(stream.get(), sourceSeek);

  opj_image_t* header = nullptr;
  const bool readable = opj_read_header(stream.get(), codec.get(), &header);
  Image image(header);
  const std::string frame = "JPEG 2000 frame " + std::to_string(index + 1);
  if (!readable || !image) throw TranscodeError(frame + " has no readable codestream header" + because(messages));
  checkHeader(l, *image, index);
  if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get()))
    throw TranscodeError("OpenJPEG could not decode " + frame + because(messages));
  checkHeader(l, *image, index);  // decoding must not have changed the geometry

  const unsigned components = l.samplesPerPixel;
  const size_t pixels = size_t(l.rows) * l.columns;
  std::string out(l.frameBytes(), '\0');
  auto* target = reinterpret_cast<unsigned char*>(out.data());
  for (unsigned c = 0; c < components; ++c) {
    const OPJ_INT32* samples = image->comps[c].data;
    if (!samples) throw TranscodeError("OpenJPEG decoded no samples for component " + std::to_string(c + 1) + " of " + frame);
    for (size_t p = 0; p < pixels; ++p) {
      const size_t at = p * components + c;  // colour by pixel
      const uint32_t word = static_cast<uint32_t>(samples[p]);
      if (l.bitsAllocated == 8) {
        target[at] = static_cast<unsigned char>(word);
      } else {
        target[2 * at] = static_cast<unsigned char>(word & 0xff);
        target[2 * at + 1] = static_cast<unsigned char>((word >> 8) & 0xff);
      }
    }
  }
  return out;
}

}  // namespace

bool OpenJpegFamily::canDecode(const std::string& syntax) const { return isJ2k(syntax); }

bool OpenJpegFamily::canEncode(const std::string& syntax) const {
  return syntax == ts::kJPEG2000Lossless || syntax == ts::kJPEG2000;
}

void OpenJpegFamily::decode(DicomFile& dicom, const PixelLayout& layout) const {
  checkSupported(layout, transferSyntaxName(dicom.syntax), false);
  const std::vector<std::string> streams = framesOf(dicom.dataset().GetDataElement(kPixelDataTag), layout.frames);
  std::string pixels;
  pixels.reserve(layout.frameBytes() * layout.frames);
  for (unsigned i = 0; i < streams.size(); ++i) pixels += decodeFrame(layout, streams[i], i);
  setDecodedPixels(dicom, layout, std::move(pixels));
}

void OpenJpegFamily::encode(DicomFile& dicom, const PixelLayout& layout, const std::string& target,
                            const TranscodeOptions& options) const {
  const bool lossy = target == ts::kJPEG2000;
  checkSupported(layout, transferSyntaxName(target), lossy);
  const gdcm::ByteValue* value = dicom.dataset().GetDataElement(kPixelDataTag).GetByteValue();
  const size_t frameBytes = layout.frameBytes();
  const size_t needed = frameBytes * layout.frames;
  if (!value || !value->GetPointer() || value->GetLength() < needed)
    throw TranscodeError("PixelData holds " + std::to_string(value ? uint32_t(value->GetLength()) : 0u) + " bytes; " +
                         layout.describe() + " needs " + std::to_string(needed));
  const auto* pixels = reinterpret_cast<const unsigned char*>(value->GetPointer());
  const int precision = codedPrecision(layout, pixels, needed / layout.bytesPerSample());
  const double ratio = options.quality > 0 ? options.quality : 10;
  std::vector<std::string> streams;
  for (unsigned f = 0; f < layout.frames; ++f)
    streams.push_back(encodeFrame(layout, pixels + f * frameBytes, precision, lossy, ratio));
  gdcm::DataSet& ds = dicom.dataset();
  ds.Replace(encapsulate(streams));
  // PS3.5 8.2.4: the JPEG 2000 stream defines the component order; 0 here.
  if (layout.samplesPerPixel == 3) setUnsignedShort(ds, gdcm::Tag(0x0028, 0x0006), 0);
  dicom.syntax = target;
}

}  // namespace router::codecs
