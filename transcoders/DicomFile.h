// The parsed DICOM file every codec family works on: a GDCM dataset plus the
// transfer syntax its pixel data is in right now, the image attributes the
// codecs need, and the Part-10 (de)serialisation. Parsing happens once per
// transcode; families change the pixel data in place.
//
// Not shared between threads: each transcode() builds its own DicomFile.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <gdcmFile.h>
#include <gdcmSmartPointer.h>
#include <gdcmTag.h>
#include <gdcmVR.h>

namespace router::codecs {

inline const gdcm::Tag kPixelDataTag(0x7fe0, 0x0010);

// Image Pixel module attributes, as read from the dataset.
struct PixelLayout {
  unsigned rows = 0;
  unsigned columns = 0;
  unsigned frames = 1;
  unsigned samplesPerPixel = 1;
  unsigned bitsAllocated = 0;
  unsigned bitsStored = 0;
  unsigned highBit = 0;
  unsigned pixelRepresentation = 0;  // 1 = signed
  unsigned planarConfiguration = 0;  // 1 = colour planes one after the other
  std::string photometric;

  std::size_t bytesPerSample() const { return bitsAllocated / 8; }
  std::size_t frameBytes() const {
    return std::size_t(rows) * columns * samplesPerPixel * bytesPerSample();
  }
  // One line for error messages: "512x512, 3 frames, 16/12 bits, RGB".
  std::string describe() const;
};

struct DicomFile {
  gdcm::SmartPointer<gdcm::File> file;
  std::string syntax;           // transfer syntax of the pixel data now
  bool datasetImplicit = false;  // elements were read without VRs

  gdcm::DataSet& dataset() { return file->GetDataSet(); }
  const gdcm::DataSet& dataset() const { return file->GetDataSet(); }
  bool hasPixelData() const;
};

// Throws TranscodeError when the bytes are not a readable DICOM file: one
// DCMTK cannot read (GDCM's reader aborts on many truncated or corrupt
// files), or one whose meta header is cut off. UID elements encoded with VR
// UN or OB are turned back into UI.
DicomFile parsePart10(std::string_view part10);

// Writes a Part-10 file whose meta header (rebuilt from the dataset) names
// targetSyntax; the dataset is encoded as that syntax requires.
std::string serializePart10(DicomFile& dicom, const std::string& targetSyntax);

// Throws TranscodeError when a mandatory attribute is missing or inconsistent.
PixelLayout readPixelLayout(const gdcm::DataSet& ds);

// Text value of an element with trailing padding removed; "" when absent.
std::string getString(const gdcm::DataSet& ds, const gdcm::Tag& tag);
// Sets a text element, padding to even length as DICOM requires (UI with NUL,
// everything else with a space).
void setString(gdcm::DataSet& ds, const gdcm::Tag& tag, gdcm::VR vr, const std::string& value);
void setUnsignedShort(gdcm::DataSet& ds, const gdcm::Tag& tag, unsigned value);

// Native (uncompressed, little endian) pixel data: OB for 8-bit, OW otherwise.
void setNativePixelData(gdcm::DataSet& ds, const PixelLayout& layout, std::string bytes);

// A fresh UID of the form 2.25.<128-bit random number> (PS3.5 B.2).
std::string makeUid();

}  // namespace router::codecs
