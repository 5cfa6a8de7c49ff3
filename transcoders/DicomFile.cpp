// Parsing, serialising and attribute access shared by the codec families.
#include "transcoders/DicomFile.h"

#include <random>
#include <sstream>

#include <gdcmAttribute.h>
#include <gdcmFileExplicitFilter.h>
#include <gdcmReader.h>
#include <gdcmTransferSyntax.h>
#include <gdcmWriter.h>

#include "transcoders/Transcoder.h"

namespace router::codecs {

namespace {

bool present(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  return ds.FindDataElement(tag) && !ds.GetDataElement(tag).IsEmpty();
}

template <uint16_t Group, uint16_t Element>
unsigned readUS(const gdcm::DataSet& ds, const char* keyword, bool required, unsigned fallback = 0) {
  gdcm::Attribute<Group, Element> at;
  if (!present(ds, at.GetTag())) {
    if (required) throw TranscodeError(std::string("the image has no ") + keyword + " attribute");
    return fallback;
  }
  at.SetFromDataElement(ds.GetDataElement(at.GetTag()));
  return at.GetValue();
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

DicomFile parsePart10(const std::string& part10) {
  gdcm::Reader reader;
  std::istringstream in(part10);
  reader.SetStream(in);
  if (!reader.Read()) throw TranscodeError("the input is not a readable DICOM file (GDCM could not parse it)");
  DicomFile dicom;
  dicom.file = &reader.GetFile();
  const gdcm::TransferSyntax& ts = dicom.file->GetHeader().GetDataSetTransferSyntax();
  dicom.syntax = getString(dicom.file->GetHeader(), gdcm::Tag(0x0002, 0x0010));
  if (dicom.syntax.empty() && ts.GetString()) dicom.syntax = ts.GetString();
  dicom.datasetImplicit = ts.IsImplicit();
  return dicom;
}

std::string serializePart10(DicomFile& dicom, const std::string& targetSyntax) {
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

  std::ostringstream out;
  gdcm::Writer writer;
  writer.SetStream(out);
  writer.SetFile(*dicom.file);
  if (!writer.Write()) throw TranscodeError("GDCM could not write the result as " + targetSyntax);
  return std::move(out).str();
}

PixelLayout readPixelLayout(const gdcm::DataSet& ds) {
  PixelLayout l;
  l.rows = readUS<0x0028, 0x0010>(ds, "Rows", true);
  l.columns = readUS<0x0028, 0x0011>(ds, "Columns", true);
  l.bitsAllocated = readUS<0x0028, 0x0100>(ds, "BitsAllocated", true);
  l.bitsStored = readUS<0x0028, 0x0101>(ds, "BitsStored", false, l.bitsAllocated);
  l.highBit = readUS<0x0028, 0x0102>(ds, "HighBit", false, l.bitsStored ? l.bitsStored - 1 : 0);
  l.pixelRepresentation = readUS<0x0028, 0x0103>(ds, "PixelRepresentation", false, 0);
  l.samplesPerPixel = readUS<0x0028, 0x0002>(ds, "SamplesPerPixel", false, 1);
  l.planarConfiguration = l.samplesPerPixel > 1 ? readUS<0x0028, 0x0006>(ds, "PlanarConfiguration", false, 0) : 0;
  l.photometric = getString(ds, gdcm::Tag(0x0028, 0x0004));
  const std::string frames = getString(ds, gdcm::Tag(0x0028, 0x0008));
  if (!frames.empty()) {
    try {
      const long n = std::stol(frames);
      if (n < 1) throw std::out_of_range("frames");
      l.frames = static_cast<unsigned>(n);
    } catch (const std::exception&) {
      throw TranscodeError("NumberOfFrames is not a positive number: '" + frames + "'");
    }
  }
  if (l.rows == 0 || l.columns == 0) throw TranscodeError("the image has zero Rows or Columns");
  if (l.photometric.empty()) throw TranscodeError("the image has no PhotometricInterpretation");
  if (l.bitsStored == 0 || l.bitsStored > l.bitsAllocated || l.highBit + 1 != l.bitsStored) {
    // HighBit other than BitsStored-1 is retired DICOM; codecs assume it.
    throw TranscodeError("inconsistent pixel bit layout (BitsAllocated " + std::to_string(l.bitsAllocated) +
                         ", BitsStored " + std::to_string(l.bitsStored) + ", HighBit " +
                         std::to_string(l.highBit) + ")");
  }
  if (l.planarConfiguration > 1) throw TranscodeError("PlanarConfiguration must be 0 or 1");
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
