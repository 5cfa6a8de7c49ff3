// Parsing, serialising and attribute access shared by the codec families.
#include "transcoders/DicomFile.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <random>
#include <sstream>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <gdcmFileExplicitFilter.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTransferSyntax.h>
#include <gdcmWriter.h>

#include "plugins/core/dicom/DicomBuffer.h"
#include "transcoders/ByteStreams.h"
#include "transcoders/Transcoder.h"

namespace router::codecs {

namespace {

bool present(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  return ds.FindDataElement(tag) && !ds.GetDataElement(tag).IsEmpty();
}

// A US attribute, read by hand: gdcm::Attribute asserts (aborts) on a value
// of another VR or length, which a hostile file can carry. GDCM keeps values
// little endian in memory, also for big-endian files.
unsigned readUS(const gdcm::DataSet& ds, uint16_t element, const char* keyword, bool required, unsigned fallback = 0) {
  const gdcm::Tag tag(0x0028, element);
  if (!present(ds, tag)) {
    if (required) throw TranscodeError(std::string("the image has no ") + keyword + " attribute");
    return fallback;
  }
  const gdcm::DataElement& de = ds.GetDataElement(tag);
  const gdcm::VR vr = de.GetVR();
  if (vr != gdcm::VR::US && vr != gdcm::VR::SS && vr != gdcm::VR::UN && vr != gdcm::VR::OB && vr != gdcm::VR::OW &&
      vr != gdcm::VR::INVALID)
    throw TranscodeError(std::string(keyword) + " has VR " + gdcm::VR::GetVRString(vr) + ", not US");
  const gdcm::ByteValue* bv = de.GetByteValue();
  if (!bv || !bv->GetPointer() || bv->GetLength() != 2)
    throw TranscodeError(std::string(keyword) + " holds " + std::to_string(bv ? uint32_t(bv->GetLength()) : 0u) +
                         " bytes, not one 2-byte US value");
  const auto* p = reinterpret_cast<const unsigned char*>(bv->GetPointer());
  return unsigned(p[0]) | unsigned(p[1]) << 8;
}

// Explicit VRs with a 2-byte reserved field and a 4-byte length.
bool isLongFormVr(std::string_view vr) {
  return vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN" || vr == "UC" ||
         vr == "UR" || vr == "OD" || vr == "OL" || vr == "OV";
}

uint32_t readUint32(std::string_view bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

// GDCM asserts (aborts) on a meta header cut off inside an element or out of
// tag order, so the group 0002 elements are walked here first: each must fit
// in the input, in ascending order.
// GDCM reads a meta group from offset 0 too when there is no preamble, and
// takes implicit VR there as well.
void refuseTruncatedMetaHeader(std::string_view bytes) {
  size_t at = bytes.size() > 132 && bytes.compare(128, 4, "DICM") == 0 ? 132 : 0;
  auto u16 = [&](size_t i) { return unsigned(uint8_t(bytes[i])) | unsigned(uint8_t(bytes[i + 1])) << 8; };
  // After the preamble PS3.10 puts the meta header; GDCM spends seconds and
  // hundreds of megabytes guessing when something else is there.
  if (at == 132 && (bytes.size() < 136 || u16(at) != 0x0002))
    throw TranscodeError("the input is not a readable DICOM file: no meta header (group 0002) after the DICM preamble");
  long previous = -1;
  while (at + 4 <= bytes.size() && u16(at) == 0x0002) {
    const long element = long(u16(at + 2));
    if (element <= previous)
      throw TranscodeError("the input is not a readable DICOM file: its meta header elements are out of order");
    previous = element;
    const bool explicitVr = at + 6 <= bytes.size() && std::isupper(static_cast<unsigned char>(bytes[at + 4])) &&
                            std::isupper(static_cast<unsigned char>(bytes[at + 5]));
    uint64_t header = 8, length = 0;
    if (explicitVr) {
      const bool longForm = isLongFormVr(bytes.substr(at + 4, 2));
      header = longForm ? 12 : 8;
      if (at + header > bytes.size()) break;
      length = longForm ? readUint32(bytes, at + 8) : u16(at + 6);
    } else {
      if (at + header > bytes.size()) break;
      length = readUint32(bytes, at + 4);
    }
    if (length == 0xffffffffu) return;  // undefined length in a meta header: left to GDCM's own checks
    if (at + header + length > bytes.size()) break;
    at += header + length;
  }
  const size_t left = bytes.size() - std::min(at, bytes.size());
  if (left >= 4 && u16(at) != 0x0002) return;  // the dataset begins
  throw TranscodeError(left == 0 ? "the input is not a readable DICOM file: it holds no dataset"
                                 : "the input is not a readable DICOM file: it ends inside its meta header (group 0002)");
}

// DCMTK reads an element with a VR that is no VR (a corrupt byte) as
// "unknown, 2-byte length"; GDCM asserts on it. Sequences included.
void refuseInvalidVrs(DcmItem& item) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* element = item.getElement(i);
    if (element == nullptr) continue;
    if (element->ident() == EVR_UNKNOWN2B) {
      char tag[16];
      std::snprintf(tag, sizeof tag, "(%04x,%04x)", element->getGTag(), element->getETag());
      throw TranscodeError(std::string("the input is not a readable DICOM file: element ") + tag + " has an invalid VR");
    }
    if (element->ident() == EVR_SQ) {
      auto* sequence = static_cast<DcmSequenceOfItems*>(element);
      for (unsigned long k = 0; k < sequence->card(); ++k)
        if (DcmItem* nested = sequence->getItem(k)) refuseInvalidVrs(*nested);
    }
  }
}

// GDCM asserts on an item or element whose length runs past the end of the
// sequence or item holding it, and on sequences or encapsulated pixel data
// cut off before their delimiter; DCMTK quietly cuts such values short.
// Checked for explicit VR little endian datasets, where the structure is
// unambiguous; what this walk does not understand (undefined-length UN, whose
// content is implicit VR) ends it without a verdict.
class NestingCheck {
 public:
  explicit NestingCheck(std::string_view bytes) : b_(bytes) {}

  void dataset(size_t at) { (void)elements(at, b_.size(), 0, false); }

 private:
  using Position = std::optional<size_t>;  // nullopt: not understood, stop

  // Elements up to `end`, or (untilDelimiter) up to an item delimiter;
  // returns the position after them.
  Position elements(size_t at, size_t end, int depth, bool untilDelimiter) {
    if (depth > 64) return std::nullopt;
    while (at + 8 <= end) {
      const unsigned group = u16(at), element = u16(at + 2);
      if (group == 0xfffe) {
        if (untilDelimiter && element == 0xe00d) return at + 8;
        if (depth == 0) refuse("it has a sequence delimiter or item outside any sequence");
        return std::nullopt;
      }
      const std::string_view vr = b_.substr(at + 4, 2);
      if (!std::isupper(static_cast<unsigned char>(vr[0])) || !std::isupper(static_cast<unsigned char>(vr[1])))
        return std::nullopt;
      const bool longForm = isLongFormVr(vr);
      if (longForm && at + 12 > end) refuse("an element header runs past the end of what holds it");
      const uint64_t length = longForm ? readUint32(b_, at + 8) : u16(at + 6);
      at += longForm ? 12 : 8;
      Position next;
      if (length == 0xffffffffu) {
        if (vr == "SQ") {
          next = items(at, end, depth, true);
        } else if (group == 0x7fe0 && element == 0x0010) {
          next = fragments(at, end);
        } else {
          return std::nullopt;
        }
      } else {
        if (at + length > end) refuse("element (" + hex(group) + "," + hex(element) + ") is longer than what holds it");
        next = vr == "SQ" ? items(at, at + length, depth, false) : Position(at + length);
        if (next && vr == "SQ") next = at + length;
      }
      if (!next) return std::nullopt;
      at = *next;
    }
    if (untilDelimiter) refuse("an item ends without its delimiter");
    if (depth == 0 && end - at >= 4) refuse("it ends inside an element header");
    return at;
  }

  Position items(size_t at, size_t end, int depth, bool untilDelimiter) {
    while (at + 8 <= end) {
      const unsigned element = u16(at + 2);
      if (u16(at) != 0xfffe) return std::nullopt;
      const uint64_t length = readUint32(b_, at + 4);
      at += 8;
      if (element == 0xe0dd && untilDelimiter) return at;
      if (element != 0xe000) return std::nullopt;
      Position next;
      if (length == 0xffffffffu) {
        next = elements(at, end, depth + 1, true);
      } else {
        if (at + length > end) refuse("a sequence item is longer than its sequence");
        next = elements(at, at + length, depth + 1, false);
        if (next) next = at + length;
      }
      if (!next) return std::nullopt;
      at = *next;
    }
    if (untilDelimiter) refuse("a sequence ends without its delimiter");
    return at;
  }

  // Encapsulated pixel data: items of defined length, then the delimiter.
  Position fragments(size_t at, size_t end) {
    while (at + 8 <= end) {
      if (u16(at) != 0xfffe) refuse("the compressed PixelData holds something that is not a fragment");
      const unsigned element = u16(at + 2);
      const uint64_t length = readUint32(b_, at + 4);
      at += 8;
      if (element == 0xe0dd) return at;
      if (element != 0xe000 || length == 0xffffffffu)
        refuse("the compressed PixelData holds something that is not a fragment");
      if (at + length > end) refuse("a PixelData fragment runs past the end of the file");
      at += length;
    }
    refuse("the compressed PixelData ends without its sequence delimiter");
  }

  unsigned u16(size_t i) const { return unsigned(uint8_t(b_[i])) | unsigned(uint8_t(b_[i + 1])) << 8; }
  static std::string hex(unsigned v) {
    char text[8];
    std::snprintf(text, sizeof text, "%04x", v);
    return text;
  }
  [[noreturn]] static void refuse(const std::string& what) {
    throw TranscodeError("the input is not a readable DICOM file: " + what);
  }

  const std::string_view b_;
};

// Where the dataset starts: after the preamble and the group 0002 elements
// (refuseTruncatedMetaHeader() has checked that they fit, explicit VR).
size_t datasetStart(std::string_view bytes) {
  size_t at = bytes.size() > 132 && bytes.compare(128, 4, "DICM") == 0 ? 132 : 0;
  while (at + 8 <= bytes.size() && uint8_t(bytes[at]) == 0x02 && bytes[at + 1] == 0) {
    if (isLongFormVr(bytes.substr(at + 4, 2))) {
      at += 12 + size_t(readUint32(bytes, at + 8));
    } else {
      at += 8 + (unsigned(uint8_t(bytes[at + 6])) | unsigned(uint8_t(bytes[at + 7])) << 8);
    }
  }
  return at;
}

// UID elements some writers encode with VR UN or OB (NUL pad included) are
// written back as the UI values they are.
void repairUidVrs(gdcm::DataSet& ds) {
  static const gdcm::Tag kUids[] = {{0x0008, 0x0016}, {0x0008, 0x0018}, {0x0020, 0x000d}, {0x0020, 0x000e}, {0x0020, 0x0052}};
  for (const gdcm::Tag& tag : kUids) {
    if (!ds.FindDataElement(tag)) continue;
    const gdcm::VR vr = ds.GetDataElement(tag).GetVR();
    if (vr != gdcm::VR::UN && vr != gdcm::VR::OB) continue;
    std::string value = getString(ds, tag);
    value = value.substr(0, value.find('\0'));
    setString(ds, tag, gdcm::VR::UI, value);
  }
}

}  // namespace

std::string PixelLayout::describe() const {
  std::ostringstream s;
  s << columns << "x" << rows << ", " << frames << (frames == 1 ? " frame" : " frames") << ", "
    << photometric << " (" << samplesPerPixel << (samplesPerPixel == 1 ? " sample" : " samples")
    << "), BitsAllocated " << bitsAllocated << ", BitsStored " << bitsStored
    << (pixelRepresentation ? ", signed" : ", unsigned");
  return s.str();
}

bool DicomFile::hasPixelData() const { return dataset().FindDataElement(kPixelDataTag); }

namespace {

// Syntaxes newer than Debian's GDCM 3.0.21 (HTJ2K, 2019): their datasets are
// encoded like every other encapsulated syntax (explicit VR little endian,
// fragments), so GDCM writes them as JPEG 2000 and the meta header's
// Transfer Syntax UID is rewritten afterwards.
bool isUnknownToGdcmEncapsulated(const std::string& uid) {
  return uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" || uid == "1.2.840.10008.1.2.4.203";
}

void putUint32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

// The same Part-10 file with (0002,0010) set to uid and the group length
// (0002,0000) recomputed. The meta header is explicit VR little endian.
std::string withMetaTransferSyntax(std::string_view part10, std::string uid) {
  if (uid.size() % 2) uid.push_back('\0');
  const size_t start = 132, end = datasetStart(part10);
  std::string elements;
  for (size_t at = start; at < end;) {
    const uint16_t element = uint16_t(uint8_t(part10[at + 2]) | uint8_t(part10[at + 3]) << 8);
    const bool longForm = isLongFormVr(part10.substr(at + 4, 2));
    const size_t header = longForm ? 12 : 8;
    const size_t length = longForm ? size_t(readUint32(part10, at + 8))
                                   : (unsigned(uint8_t(part10[at + 6])) | unsigned(uint8_t(part10[at + 7])) << 8);
    if (element == 0x0010) {
      elements.append(part10, at, 6);
      elements.push_back(char(uid.size() & 0xff));
      elements.push_back(char(uid.size() >> 8));
      elements += uid;
    } else if (element != 0x0000) {
      elements.append(part10, at, header + length);
    }
    at += header + length;
  }
  std::string out(part10.substr(0, start));
  out.append("\x02\x00\x00\x00UL\x04\x00", 8);
  putUint32(out, uint32_t(elements.size()));
  out += elements;
  out.append(part10, end, std::string::npos);
  return out;
}

// The value of (0002,0010), without padding; "" when absent.
std::string metaTransferSyntax(std::string_view part10) {
  if (part10.size() <= 132 || part10.compare(128, 4, "DICM") != 0) return "";
  const size_t end = datasetStart(part10);
  for (size_t at = 132; at < end;) {
    const uint16_t element = uint16_t(uint8_t(part10[at + 2]) | uint8_t(part10[at + 3]) << 8);
    const bool longForm = isLongFormVr(part10.substr(at + 4, 2));
    const size_t header = longForm ? 12 : 8;
    const size_t length = longForm ? size_t(readUint32(part10, at + 8))
                                   : (unsigned(uint8_t(part10[at + 6])) | unsigned(uint8_t(part10[at + 7])) << 8);
    if (element == 0x0010 && !longForm) {
      std::string uid(part10.substr(at + header, length));
      while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
      return uid;
    }
    at += header + length;
  }
  return "";
}

// About what a Part-10 file of ds takes: its pixel data and room for the
// other elements (the output grows if that is too little).
size_t expectedPart10Size(const gdcm::DataSet& ds) {
  size_t pixels = 0;
  if (ds.FindDataElement(kPixelDataTag)) {
    const gdcm::DataElement& element = ds.GetDataElement(kPixelDataTag);
    if (const gdcm::ByteValue* value = element.GetByteValue()) pixels = uint32_t(value->GetLength());
    if (const gdcm::SequenceOfFragments* fragments = element.GetSequenceOfFragments()) {
      for (size_t i = 0; i < fragments->GetNumberOfFragments(); ++i) {
        const gdcm::ByteValue* value = fragments->GetFragment(i).GetByteValue();
        pixels += 8 + (value ? uint32_t(value->GetLength()) : 0u);
      }
    }
  }
  return pixels + 64 * 1024;
}

}  // namespace

DicomFile parsePart10(std::string_view part10) {
  // GDCM's reader asserts (aborts the process) on many truncated or
  // corrupt files; DCMTK's, which Orthanc also uses to accept a file,
  // refuses them cleanly. GDCM reads only what DCMTK could.
  refuseTruncatedMetaHeader(part10);
  std::unique_ptr<DcmFileFormat> checked;
  try {
    checked = parseDicom(part10);
  } catch (const RouterError& e) {
    throw TranscodeError(e.what());  // "not a readable DICOM file: ..."
  }
  refuseInvalidVrs(*checked->getMetaInfo());
  refuseInvalidVrs(*checked->getDataset());
  const DcmXfer xfer(checked->getDataset()->getOriginalXfer());
  checked.reset();
  if (xfer.isExplicitVR() && xfer.isLittleEndian() && xfer.getStreamCompression() == ESC_none)
    NestingCheck(part10).dataset(datasetStart(part10));
  gdcm::Reader reader;
  // GDCM 3.0.21 does not know the HTJ2K syntaxes: it reads such a file
  // labelled as JPEG 2000, whose dataset encoding is the same.
  const std::string declared = metaTransferSyntax(part10);
  const bool relabelled = isUnknownToGdcmEncapsulated(declared);
  const std::string relabelledBytes =
      relabelled ? withMetaTransferSyntax(part10, gdcm::TransferSyntax::GetTSString(gdcm::TransferSyntax::JPEG2000Lossless))
                 : std::string();
  BytesInput bytes(relabelled ? std::string_view(relabelledBytes) : part10);
  std::istream in(&bytes);
  reader.SetStream(in);
  if (!reader.Read()) throw TranscodeError("the input is not a readable DICOM file (GDCM could not parse it)");
  DicomFile dicom;
  dicom.file = &reader.GetFile();
  const gdcm::TransferSyntax& ts = dicom.file->GetHeader().GetDataSetTransferSyntax();
  dicom.syntax = relabelled ? declared : getString(dicom.file->GetHeader(), gdcm::Tag(0x0002, 0x0010));
  if (dicom.syntax.empty() && ts.GetString()) dicom.syntax = ts.GetString();
  dicom.datasetImplicit = ts.IsImplicit();
  if (!dicom.datasetImplicit) repairUidVrs(dicom.dataset());
  return dicom;
}

std::string serializePart10(DicomFile& dicom, const std::string& targetSyntax) {
  if (isUnknownToGdcmEncapsulated(targetSyntax))
    return withMetaTransferSyntax(serializePart10(dicom, gdcm::TransferSyntax::GetTSString(gdcm::TransferSyntax::JPEG2000Lossless)),
                                  targetSyntax);
  const gdcm::TransferSyntax::TSType type = gdcm::TransferSyntax::GetTSType(targetSyntax.c_str());
  if (type == gdcm::TransferSyntax::TS_END) throw TranscodeError("GDCM does not know transfer syntax " + targetSyntax);
  const gdcm::TransferSyntax ts(type);
  if (dicom.datasetImplicit && ts.IsExplicit()) {
    // Elements read from an implicit dataset carry no VR; take them from the
    // dictionary (UN for unknown private elements) before writing explicit.
    gdcm::FileExplicitFilter filter;
    filter.SetFile(*dicom.file);
    if (!filter.Change()) throw TranscodeError("could not assign VRs to the implicit-VR dataset");
    dicom.datasetImplicit = false;
  }
  gdcm::FileMetaInformation& header = dicom.file->GetHeader();
  // Rebuilt by the writer from the dataset: length, SOP UIDs, syntax.
  for (uint16_t element : {0x0000, 0x0002, 0x0003, 0x0010}) header.Remove(gdcm::Tag(0x0002, element));
  header.SetDataSetTransferSyntax(ts);

  StringOutput bytes(expectedPart10Size(dicom.dataset()));
  std::ostream out(&bytes);
  gdcm::Writer writer;
  writer.SetStream(out);
  writer.SetFile(*dicom.file);
  if (!writer.Write() || !out) throw TranscodeError("GDCM could not write the result as " + targetSyntax);
  return bytes.take();
}

PixelLayout readPixelLayout(const gdcm::DataSet& ds) {
  PixelLayout l;
  l.rows = readUS(ds, 0x0010, "Rows", true);
  l.columns = readUS(ds, 0x0011, "Columns", true);
  l.bitsAllocated = readUS(ds, 0x0100, "BitsAllocated", true);
  l.bitsStored = readUS(ds, 0x0101, "BitsStored", false, l.bitsAllocated);
  l.highBit = readUS(ds, 0x0102, "HighBit", false, l.bitsStored ? l.bitsStored - 1 : 0);
  l.pixelRepresentation = readUS(ds, 0x0103, "PixelRepresentation", false, 0);
  l.samplesPerPixel = readUS(ds, 0x0002, "SamplesPerPixel", false, 1);
  l.planarConfiguration = l.samplesPerPixel > 1 ? readUS(ds, 0x0006, "PlanarConfiguration", false, 0) : 0;
  l.photometric = getString(ds, gdcm::Tag(0x0028, 0x0004));
  const std::string frames = getString(ds, gdcm::Tag(0x0028, 0x0008));
  if (!frames.empty()) {
    try {
      size_t used = 0;
      const long n = std::stol(frames, &used);
      if (n < 1 || n > 0x7fffffffL || frames.find_first_not_of(' ', used) != std::string::npos)
        throw std::out_of_range("frames");
      l.frames = static_cast<unsigned>(n);
    } catch (const std::exception&) {
      throw TranscodeError("NumberOfFrames is not a positive number: '" + frames.substr(0, 32) + "'");
    }
  }
  if (l.rows == 0) throw TranscodeError("the image has Rows 0");
  if (l.columns == 0) throw TranscodeError("the image has Columns 0");
  if (l.photometric.empty()) throw TranscodeError("the image has no PhotometricInterpretation");
  const std::string bits = " (BitsAllocated " + std::to_string(l.bitsAllocated) + ", BitsStored " +
                           std::to_string(l.bitsStored) + ", HighBit " + std::to_string(l.highBit) + ")";
  if (l.bitsAllocated == 0) throw TranscodeError("inconsistent pixel bit layout: BitsAllocated is 0" + bits);
  if (l.bitsStored == 0) throw TranscodeError("inconsistent pixel bit layout: BitsStored is 0" + bits);
  if (l.bitsStored > l.bitsAllocated)
    throw TranscodeError("inconsistent pixel bit layout: BitsStored " + std::to_string(l.bitsStored) +
                         " is more than BitsAllocated " + std::to_string(l.bitsAllocated) + bits);
  if (l.highBit >= l.bitsAllocated)
    throw TranscodeError("inconsistent pixel bit layout: HighBit " + std::to_string(l.highBit) +
                         " is not below BitsAllocated " + std::to_string(l.bitsAllocated) + bits);
  // HighBit other than BitsStored-1 is retired DICOM; codecs assume it.
  if (l.highBit + 1 != l.bitsStored)
    throw TranscodeError("inconsistent pixel bit layout: HighBit " + std::to_string(l.highBit) +
                         " is not BitsStored - 1" + bits);
  if (l.samplesPerPixel != 1 && l.samplesPerPixel != 3)
    throw TranscodeError("SamplesPerPixel " + std::to_string(l.samplesPerPixel) + " is not supported (1 or 3)");
  // PS3.3 C.7.6.3.1.2: each photometric interpretation has its number of
  // samples. A mismatch (e.g. YBR_FULL without SamplesPerPixel, which then
  // reads as 1) makes GDCM's JPEG coder read three samples from a buffer of
  // one (fuzz_transcode).
  const bool monochrome = l.photometric == "MONOCHROME1" || l.photometric == "MONOCHROME2" ||
                          l.photometric == "PALETTE COLOR";
  const bool colour = l.photometric == "RGB" || l.photometric.rfind("YBR_", 0) == 0;
  if ((monochrome && l.samplesPerPixel != 1) || (colour && l.samplesPerPixel != 3))
    throw TranscodeError("PhotometricInterpretation " + l.photometric + " takes " + (monochrome ? "1 sample" : "3 samples") +
                         " per pixel, but SamplesPerPixel is " + std::to_string(l.samplesPerPixel) +
                         " (missing or wrong in the file)");
  if (l.planarConfiguration > 1)
    throw TranscodeError("PlanarConfiguration " + std::to_string(l.planarConfiguration) + " must be 0 or 1");
  if (l.pixelRepresentation > 1)
    throw TranscodeError("PixelRepresentation " + std::to_string(l.pixelRepresentation) + " must be 0 or 1");
  return l;
}

std::string getString(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return {};
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (!bv || !bv->GetPointer()) return {};
  std::string value(bv->GetPointer(), bv->GetLength());
  while (!value.empty() && (value.back() == ' ' || value.back() == '\0')) value.pop_back();
  return value;
}

void setString(gdcm::DataSet& ds, const gdcm::Tag& tag, gdcm::VR vr, const std::string& value) {
  std::string padded = value;
  if (padded.size() % 2) padded.push_back(vr == gdcm::VR::UI ? '\0' : ' ');
  gdcm::DataElement de(tag);
  de.SetVR(vr);
  de.SetByteValue(padded.data(), static_cast<uint32_t>(padded.size()));
  ds.Replace(de);
}

void setUnsignedShort(gdcm::DataSet& ds, const gdcm::Tag& tag, unsigned value) {
  const uint16_t v = static_cast<uint16_t>(value);
  const char bytes[2] = {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
  gdcm::DataElement de(tag);
  de.SetVR(gdcm::VR::US);
  de.SetByteValue(bytes, 2);
  ds.Replace(de);
}

void setNativePixelData(gdcm::DataSet& ds, const PixelLayout& layout, std::string bytes) {
  if (bytes.size() % 2) bytes.push_back('\0');
  gdcm::DataElement de(kPixelDataTag);
  de.SetVR(layout.bitsAllocated > 8 ? gdcm::VR::OW : gdcm::VR::OB);
  de.SetByteValue(bytes.data(), static_cast<uint32_t>(bytes.size()));
  ds.Replace(de);
}

std::string makeUid() {
  __extension__ typedef unsigned __int128 uint128;
  std::random_device random;
  uint128 value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 32) | random();
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  return "2.25." + digits;
}

}  // namespace router::codecs
