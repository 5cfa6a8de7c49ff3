// Test-data generator: realistic DICOM instances made from a small spec, so
// the tests never depend on files nobody here wrote. Used by the unit tests,
// the integration tests (through the router-testdata CLI) and benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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

// The SOP Instance UID a Part-10 file carries, without padding.
std::string sopInstanceUidOf(const std::string& part10);

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

// A file a router must survive: broken or unusual in one way, and what the
// router must do with it when asked to transcode it (hostileSuite()).
struct HostileCase {
  std::string name;            // "mr-padded-pixels": file and test names
  std::string what;            // one line: what is wrong with it, what it once crashed
  std::string bytes;           // the Part-10 file, broken as described
  std::string sopInstanceUid;  // as text, without padding: what the router must report
  // "deliver": the transcode succeeds (repaired where needed); lossless
  // targets decode to `pixels`, the target the file is already in gives
  // back the file unchanged. "refuse": the transcode throws TranscodeError
  // whose message contains `reason`.
  std::string expectation;
  std::map<std::string, std::string> exceptions;  // target keyword -> expectation, where it differs
  std::string reason;          // in every refusal of the default expectation
  std::vector<uint8_t> pixels;  // deliver: Rows*Columns*...*Frames bytes as described, no pad
  std::string transferSyntax;  // UID the file is in

  // The expectation for a target given by keyword ("JPEGLSLossless").
  const std::string& expectationFor(const std::string& targetKeyword) const;
};

// The hostile cases (see the design's test data section), one file each:
//   mr-padded-pixels            16-bit MR, PixelData 6 bytes longer than described   deliver
//   mf-odd-padded-pixels        3 frames 8-bit 33x31, 1000 bytes too many             deliver
//   rgb-odd-255                 255x255 RGB 8-bit (odd byte count)                   deliver
//   ybr-full-odd                127x93 YBR_FULL 8-bit                                deliver
//   rgb-odd-jpeg-baseline       the 255x255 RGB as JPEG baseline (our encoder)       deliver
//   rgb-1x1                     1x1 RGB (GDCM's J2K encoder overran its buffer)      deliver
//   short-pixels                CT, PixelData half as long as described              refuse
//   rows-columns-overflow       65535x65535 16-bit with 128 bytes of pixels          refuse
//   bits-stored-above-allocated BitsAllocated 8, BitsStored 12                       refuse
//   jpegls-garbage-fragments    JPEG-LS syntax, fragments of random bytes            refuse
//   j2k-garbage-fragments       JPEG 2000 syntax, fragments of random bytes          refuse
//   j2k-stream-larger-than-dataset  64x64 codestream, dataset says 32x32
//                               (GDCM's J2K decoder overran its buffer)              refuse
//   j2k-components-mismatch     1-component codestream, dataset says RGB
//                               (GDCM's J2K decoder asserted)                        refuse
//   bot-outside-data            JPEG-LS, Basic Offset Table points past the data     refuse
//   fragments-fewer-than-frames JPEG-LS, 3 frames but 2 fragments                    refuse
//   rtdose-nul-uids             RT Dose, odd-length SOP Class/Instance UIDs + NUL    deliver
//   rtdose-uid-as-un            the same with SOP Class UID encoded as VR UN         deliver
//   padded-strings              NUL- and space-padded PN/LO/SH, space-padded UID     deliver
//   private-sequence            implicit VR, private SQ of undefined length          deliver
//   truncated-file              a CT cut off in the middle of its PixelData          refuse
// (16-bit cases: JPEGBaseline8Bit/JPEGExtended12Bit refuse, mr-padded-pixels
// also JPEGLSNearLossless (full signed range); a refused case still delivers
// to the syntax it is already in, nothing to convert, except truncated-file,
// which is unreadable whatever the target. `exceptions` lists all of these.)
std::vector<HostileCase> hostileSuite(uint32_t seed = 1);

}  // namespace router::testdata
