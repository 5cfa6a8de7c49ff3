// Test-data generator: realistic DICOM instances made from a small spec, so
// the tests never depend on files nobody here wrote. Used by the unit tests,
// the integration tests (through the router-testdata CLI) and benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace router::testdata {

struct ImageSpec {
  std::string name;                 // short label, used in file names and test names
  std::string modality = "CT";
  std::string sopClassUid;          // empty: chosen from modality (CT/MR/US/SC/SR...)
  int rows = 64;
  int columns = 64;
  int frames = 1;                   // > 1: multi-frame (NumberOfFrames)
  int bitsAllocated = 16;
  int bitsStored = 16;
  bool signedPixels = false;        // PixelRepresentation 1
  int samplesPerPixel = 1;          // 3 for colour
  std::string photometric = "MONOCHROME2";
  int planarConfiguration = 0;
  bool noPixelData = false;         // e.g. a structured report
  uint32_t seed = 1;                // pixel content and generated UIDs derive from it
  // Identity; empty values are generated deterministically from seed.
  std::string patientId, patientName, studyInstanceUid, seriesInstanceUid, sopInstanceUid;
  std::string accessionNumber, institutionName, studyDescription;
  int instanceNumber = 1;
};

// A Part-10 file (Explicit VR Little Endian) for the spec.
std::string makeInstance(const ImageSpec& spec);

// The decoded pixel bytes makeInstance() puts in PixelData (for assertions).
std::vector<uint8_t> expectedPixels(const ImageSpec& spec);

// The variety the tests cover: CT 16-bit signed and unsigned, MR, 8-bit RGB,
// 8-bit mono, 12-bit in 16, multi-frame, odd sizes, an SR without pixel data.
std::vector<ImageSpec> standardSuite();

}  // namespace router::testdata
