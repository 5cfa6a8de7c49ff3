// Test-data generator: realistic DICOM instances made from a small spec, so
// the tests never depend on files nobody here wrote. Used by the unit tests,
// the integration tests (through the router-testdata CLI) and benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace router::testdata {

struct ImageSpec {
  std::string name;                 // short label, used in file names and test names
  std::string modality = "CT";
  std::string sopClassUid;          // empty: chosen from modality (CT/MR/US/SC/SR...);
                                    // with noPixelData, 1.2.840.10008.5.1.4.1.1.88.67
                                    // gives an X-Ray Radiation Dose SR
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
                                    // (UIDs under 1.2.826.0.1.3680043.10.1234)
  // Identity; empty values are generated deterministically from seed.
  std::string patientId, patientName, studyInstanceUid, seriesInstanceUid, sopInstanceUid;
  std::string accessionNumber, institutionName, studyDescription;
  int instanceNumber = 1;
};

// A Part-10 file (Explicit VR Little Endian) for the spec.
std::string makeInstance(const ImageSpec& spec);

// The spec with every empty identity field (patient, accession, institution,
// study description, study/series/SOP instance UIDs) filled in exactly as
// makeInstance() fills it, e.g. to learn the SOP Instance UID of a file.
ImageSpec withIdentity(const ImageSpec& spec);

// The decoded pixel bytes makeInstance() puts in PixelData (for assertions):
// little endian, frame after frame, bits above HighBit zero. An odd total
// (8-bit odd sizes) carries DICOM's one zero pad byte, exactly as in the file.
// Changing only planarConfiguration reorders the same samples: for a planar-1
// spec, expectedPixels() of a copy with planarConfiguration = 0 is what a
// codec that interleaves (JPEG-LS, JPEG 2000 encoders do) gives back.
std::vector<uint8_t> expectedPixels(const ImageSpec& spec);

// Rows * Columns * SamplesPerPixel * BitsAllocated/8 * Frames: the image
// bytes without the pad byte (what a decoder hands back). 0 without pixels.
std::size_t pixelByteCount(const ImageSpec& spec);

// The variety the tests cover: CT 16-bit signed and unsigned, MR, 8-bit RGB,
// 8-bit mono, 12-bit in 16, multi-frame, odd sizes, an SR without pixel data.
// Names: ct-s16 ct-u16 ct-12in16 mr-s16 sc-mono8 sc-rgb-planar0 sc-rgb-planar1
// mf-gray16 (5 frames) mf-rgb (3 frames) ct-odd (127x93) sc-mono8-odd
// sc-rgb-odd sr-text sr-dose; one patient and study, a series per case.
std::vector<ImageSpec> standardSuite();

// One CT series: count slices (InstanceNumber 1..count) sharing study, series
// and frame of reference, each with its own SOP Instance UID and pixels;
// 16-bit signed, -1024..3071 HU. A different seed gives different UIDs.
std::vector<ImageSpec> ctSeries(int count, uint32_t seed, int rows = 512, int columns = 512);

}  // namespace router::testdata
