// Test-data generator (see TestData.h): builds Part-10 instances with DCMTK's
// dcmdata from an ImageSpec. Everything, pixels and UIDs included, derives
// from the spec alone, so expectedPixels() can recompute what makeInstance()
// wrote and a test can rebuild any file it received.
#include "tests/generator/TestData.h"

#include "plugins/core/Error.h"
#include "plugins/core/dicom/Uid.h"
#include "transcoders/Transcoder.h"
#include "transcoders/TransferSyntax.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrlo.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <dcmtk/dcmdata/dcvrus.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

namespace router::testdata {

namespace {

// A sub-root of 1.2.826.0.1.3680043 (Medical Connections' free UID root),
// reserved here for generated test data only.
constexpr const char* kUidRoot = "1.2.826.0.1.3680043.10.1234";

constexpr const char* kCtImage = "1.2.840.10008.5.1.4.1.1.2";
constexpr const char* kMrImage = "1.2.840.10008.5.1.4.1.1.4";
constexpr const char* kUsImage = "1.2.840.10008.5.1.4.1.1.6.1";
constexpr const char* kUsMultiFrame = "1.2.840.10008.5.1.4.1.1.3.1";
constexpr const char* kSecondaryCapture = "1.2.840.10008.5.1.4.1.1.7";
constexpr const char* kMfGrayByteSc = "1.2.840.10008.5.1.4.1.1.7.2";
constexpr const char* kMfGrayWordSc = "1.2.840.10008.5.1.4.1.1.7.3";
constexpr const char* kMfTrueColorSc = "1.2.840.10008.5.1.4.1.1.7.4";
constexpr const char* kBasicTextSr = "1.2.840.10008.5.1.4.1.1.88.11";
constexpr const char* kEnhancedSr = "1.2.840.10008.5.1.4.1.1.88.22";
constexpr const char* kXRayDoseSr = "1.2.840.10008.5.1.4.1.1.88.67";

constexpr const char* kStudyDate = "20240115";
constexpr const char* kStudyTime = "101500";

// FNV-1a: a stable hash of labels, so UIDs do not depend on the standard library.
uint32_t fnv1a(const std::string& text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

// splitmix64: small, fast and identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

// Decimal numbers never have leading zeros, so every component is valid.
std::string uid(int kind, const ImageSpec& spec, const std::string& label, const std::string& tail = "") {
  std::string out = std::string(kUidRoot) + "." + std::to_string(kind) + "." + std::to_string(spec.seed) +
                    "." + std::to_string(fnv1a(label));
  if (!tail.empty()) out += "." + tail;
  return out;
}

bool isSr(const ImageSpec& s) {
  const std::string& c = s.sopClassUid;
  return s.noPixelData || s.modality == "SR" || c == kBasicTextSr || c == kEnhancedSr || c == kXRayDoseSr;
}

std::string frameOfReferenceUidOf(const ImageSpec& s) {
  return uid(4, s, s.patientId + "|" + s.modality + "|" + s.name);
}

std::string sopClassOf(const ImageSpec& s) {
  if (!s.sopClassUid.empty()) return s.sopClassUid;
  if (isSr(s)) return kBasicTextSr;
  const bool gray16 = s.samplesPerPixel == 1 && s.bitsAllocated == 16;
  if (s.frames > 1) {
    if (s.modality == "US" && s.bitsAllocated == 8) return kUsMultiFrame;
    if (s.samplesPerPixel == 3) return kMfTrueColorSc;
    return s.bitsAllocated == 8 ? kMfGrayByteSc : kMfGrayWordSc;
  }
  if (s.modality == "CT" && gray16) return kCtImage;
  if (s.modality == "MR" && gray16) return kMrImage;
  if (s.modality == "US" && s.bitsAllocated == 8) return kUsImage;  // US IODs are 8-bit only
  return kSecondaryCapture;
}

void validate(const ImageSpec& s) {
  auto fail = [&](const std::string& what) {
    throw RouterError("test-data spec '" + s.name + "': " + what);
  };
  if (s.noPixelData) return;
  if (s.rows < 1 || s.columns < 1 || s.rows > 65535 || s.columns > 65535) fail("rows/columns out of range");
  if (s.frames < 1) fail("frames must be >= 1");
  if (s.bitsAllocated != 8 && s.bitsAllocated != 16) fail("bitsAllocated must be 8 or 16");
  if (s.bitsStored < 1 || s.bitsStored > s.bitsAllocated) fail("bitsStored must be in 1..bitsAllocated");
  if (s.samplesPerPixel != 1 && s.samplesPerPixel != 3) fail("samplesPerPixel must be 1 or 3");
  if (s.samplesPerPixel == 3 && s.bitsAllocated != 8) fail("colour images must be 8-bit");
  if (s.planarConfiguration != 0 && s.planarConfiguration != 1) fail("planarConfiguration must be 0 or 1");
}

// The stored-value range: CT signed covers the Hounsfield range of real
// scanners (air to dense bone); everything else spans the whole bit depth.
void valueRange(const ImageSpec& s, int64_t& lo, int64_t& hi) {
  const int bs = s.bitsStored;
  if (s.signedPixels) {
    lo = -(int64_t{1} << (bs - 1));
    hi = (int64_t{1} << (bs - 1)) - 1;
    if (s.modality == "CT") {
      lo = std::max<int64_t>(lo, -1024);
      hi = std::min<int64_t>(hi, 3071);
    }
  } else {
    lo = 0;
    hi = (int64_t{1} << bs) - 1;
  }
}

// One sample in [0,1]: a gradient per channel, a disc whose rim is a sharp
// edge, a bright bar, and noise; the shapes move from frame to frame so every
// frame differs.
double sample(Rng& rng, int channel, int frame, int y, int x, int rows, int cols) {
  const double gx = cols > 1 ? double(x) / (cols - 1) : 0.0;
  const double gy = rows > 1 ? double(y) / (rows - 1) : 0.0;
  double t;
  switch (channel) {
    case 0: t = 0.65 * gx + 0.35 * gy; break;
    case 1: t = 0.3 * gx + 0.7 * (1.0 - gy); break;
    default: t = 0.5 + 0.5 * std::sin(6.0 * gx + 4.0 * gy); break;
  }
  const double cx = cols * (0.4 + 0.05 * frame), cy = rows * 0.55, r = 0.25 * std::min(rows, cols);
  if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r) t = 1.0 - t;
  const int barStart = cols / 8 + frame;
  if (x >= barStart && x < barStart + std::max(1, cols / 12)) t = 0.95;
  t += (rng.uniform() - 0.5) * 0.06;
  return std::clamp(t, 0.0, 1.0);
}

std::size_t imageBytes(const ImageSpec& s) {
  return std::size_t(s.rows) * s.columns * s.samplesPerPixel * (s.bitsAllocated / 8) * s.frames;
}

// Stored values, in file order (frame, then plane or pixel, then sample).
std::vector<int64_t> storedValues(const ImageSpec& s) {
  int64_t lo = 0, hi = 0;
  valueRange(s, lo, hi);
  Rng rng((uint64_t{s.seed} << 32) ^ (uint64_t(uint32_t(s.instanceNumber)) * 0x9E3779B9u) ^ fnv1a(s.name));
  const int spp = s.samplesPerPixel;
  const std::size_t pixels = std::size_t(s.rows) * s.columns;
  std::vector<int64_t> values(pixels * spp * s.frames);
  for (int f = 0; f < s.frames; ++f) {
    const std::size_t frameBase = std::size_t(f) * pixels * spp;
    for (int y = 0; y < s.rows; ++y) {
      for (int x = 0; x < s.columns; ++x) {
        const std::size_t p = std::size_t(y) * s.columns + x;
        for (int c = 0; c < spp; ++c) {
          const double t = sample(rng, c, f, y, x, s.rows, s.columns);
          const std::size_t at = s.planarConfiguration == 1 ? frameBase + c * pixels + p : frameBase + p * spp + c;
          values[at] = lo + std::llround(t * double(hi - lo));
        }
      }
    }
  }
  // Both ends of the range appear, so a codec that clips or narrows fails.
  values.front() = lo;
  values.back() = hi;
  return values;
}

// A DS value in its shortest form ("2.5", not "2.500000").
std::string decimal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

void check(const OFCondition& cond, const char* what) {
  if (cond.bad()) throw RouterError(std::string("test-data: ") + what + ": " + cond.text());
}

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  check(item.putAndInsertString(tag, value.c_str()), DcmTag(tag).getTagName());
}

DcmItem& newItem(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  check(parent.findOrCreateSequenceItem(sequence, item, -2), DcmTag(sequence).getTagName());
  return *item;
}

void putCode(DcmItem& parent, const DcmTagKey& sequence, const char* value, const char* scheme,
             const char* meaning) {
  DcmItem& code = newItem(parent, sequence);
  put(code, DCM_CodeValue, value);
  put(code, DCM_CodingSchemeDesignator, scheme);
  put(code, DCM_CodeMeaning, meaning);
}

DcmItem& addContentItem(DcmItem& parent, const char* relationship, const char* valueType, const char* code,
                        const char* scheme, const char* meaning) {
  DcmItem& item = newItem(parent, DCM_ContentSequence);
  put(item, DCM_RelationshipType, relationship);
  put(item, DCM_ValueType, valueType);
  putCode(item, DCM_ConceptNameCodeSequence, code, scheme, meaning);
  return item;
}

void addNum(DcmItem& parent, const char* code, const char* meaning, const char* value, const char* unit,
            const char* unitMeaning) {
  DcmItem& item = addContentItem(parent, "CONTAINS", "NUM", code, "DCM", meaning);
  DcmItem& measured = newItem(item, DCM_MeasuredValueSequence);
  put(measured, DCM_NumericValue, value);
  putCode(measured, DCM_MeasurementUnitsCodeSequence, unit, "UCUM", unitMeaning);
}

void addPatientStudySeries(DcmDataset& ds, const ImageSpec& s, const std::string& modality) {
  put(ds, DCM_SOPClassUID, sopClassOf(s));
  put(ds, DCM_SOPInstanceUID, s.sopInstanceUid);
  put(ds, DCM_StudyDate, kStudyDate);
  put(ds, DCM_StudyTime, kStudyTime);
  put(ds, DCM_ContentDate, kStudyDate);
  put(ds, DCM_ContentTime, kStudyTime);
  put(ds, DCM_AccessionNumber, s.accessionNumber);
  put(ds, DCM_Modality, modality);
  put(ds, DCM_Manufacturer, "Router Test Data");
  put(ds, DCM_ManufacturerModelName, "router-testdata");
  put(ds, DCM_DeviceSerialNumber, "0001");
  put(ds, DCM_SoftwareVersions, "1.0");
  put(ds, DCM_InstitutionName, s.institutionName);
  put(ds, DCM_ReferringPhysicianName, "Referrer^Rita");
  put(ds, DCM_StationName, "RTGEN");
  put(ds, DCM_StudyDescription, s.studyDescription);
  put(ds, DCM_SeriesDescription, s.name.empty() ? "generated" : s.name);
  put(ds, DCM_PatientName, s.patientName);
  put(ds, DCM_PatientID, s.patientId);
  put(ds, DCM_PatientBirthDate, "19700101");
  put(ds, DCM_PatientSex, "O");
  put(ds, DCM_StudyInstanceUID, s.studyInstanceUid);
  put(ds, DCM_SeriesInstanceUID, s.seriesInstanceUid);
  put(ds, DCM_StudyID, "1");
  put(ds, DCM_SeriesNumber, std::to_string(1 + fnv1a(s.name) % 900));
  put(ds, DCM_InstanceNumber, std::to_string(s.instanceNumber));
}

void addStructuredReport(DcmDataset& ds, const ImageSpec& s) {
  const std::string sopClass = sopClassOf(s);
  addPatientStudySeries(ds, s, "SR");
  check(ds.insertEmptyElement(DCM_ReferencedPerformedProcedureStepSequence), "ReferencedPPSSequence");
  check(ds.insertEmptyElement(DCM_PerformedProcedureCodeSequence), "PerformedProcedureCodeSequence");
  put(ds, DCM_CompletionFlag, "COMPLETE");
  put(ds, DCM_VerificationFlag, "UNVERIFIED");
  put(ds, DCM_ValueType, "CONTAINER");
  put(ds, DCM_ContinuityOfContent, "SEPARATE");
  if (sopClass == kXRayDoseSr) {
    // A skeleton of TID 10011 (CT Radiation Dose): enough for rules keyed on
    // the SOP class and for anything that reads the accumulated DLP.
    putCode(ds, DCM_ConceptNameCodeSequence, "113701", "DCM", "X-Ray Radiation Dose Report");
    DcmItem& tpl = newItem(ds, DCM_ContentTemplateSequence);
    put(tpl, DCM_MappingResource, "DCMR");
    put(tpl, DCM_TemplateIdentifier, "10011");
    DcmItem& type = addContentItem(ds, "HAS CONCEPT MOD", "CODE", "121058", "DCM", "Procedure reported");
    putCode(type, DCM_ConceptCodeSequence, "77477000", "SCT", "Computed Tomography");
    DcmItem& totals = addContentItem(ds, "CONTAINS", "CONTAINER", "113811", "DCM", "CT Accumulated Dose Data");
    put(totals, DCM_ContinuityOfContent, "SEPARATE");
    addNum(totals, "113812", "Total Number of Irradiation Events", "2", "{events}", "events");
    addNum(totals, "113813", "CT Dose Length Product Total", "412.5", "mGy.cm", "mGy.cm");
  } else {
    putCode(ds, DCM_ConceptNameCodeSequence, "11528-7", "LN", "Radiology Report");
    DcmItem& findings = addContentItem(ds, "CONTAINS", "TEXT", "121071", "DCM", "Finding");
    put(findings, DCM_TextValue, "No acute abnormality. Generated test report, seed " + std::to_string(s.seed) + ".");
    DcmItem& impression = addContentItem(ds, "CONTAINS", "TEXT", "121073", "DCM", "Impression");
    put(impression, DCM_TextValue, "Normal study.");
  }
}

void addImage(DcmDataset& ds, const ImageSpec& s) {
  const std::string sopClass = sopClassOf(s);
  const bool sc = sopClass == kSecondaryCapture || sopClass == kMfGrayByteSc || sopClass == kMfGrayWordSc ||
                  sopClass == kMfTrueColorSc;
  addPatientStudySeries(ds, s, s.modality);
  if (sc) put(ds, DCM_ConversionType, "WSD");
  put(ds, DCM_BurnedInAnnotation, "NO");
  if (sc && s.frames > 1 && s.samplesPerPixel == 1) put(ds, DCM_PresentationLUTShape, "IDENTITY");
  put(ds, DCM_ImageType, sopClass == kCtImage ? "ORIGINAL\\PRIMARY\\AXIAL" : "ORIGINAL\\PRIMARY");
  put(ds, DCM_AcquisitionNumber, "1");
  put(ds, DCM_PatientOrientation, "L\\P");
  put(ds, DCM_FrameOfReferenceUID, frameOfReferenceUidOf(s));
  put(ds, DCM_PositionReferenceIndicator, "");
  // Geometry: 0.7 mm pixels, axial slices 2.5 mm apart along the instance number.
  put(ds, DCM_PixelSpacing, "0.7\\0.7");
  put(ds, DCM_SliceThickness, "2.5");
  put(ds, DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
  put(ds, DCM_ImagePositionPatient, "-180\\-180\\" + decimal(2.5 * s.instanceNumber));
  put(ds, DCM_SliceLocation, decimal(2.5 * s.instanceNumber));
  if (sopClass == kCtImage) {
    put(ds, DCM_KVP, "120");
    put(ds, DCM_ConvolutionKernel, "STANDARD");
  } else if (sopClass == kMrImage) {
    put(ds, DCM_ScanningSequence, "SE");
    put(ds, DCM_SequenceVariant, "NONE");
    put(ds, DCM_ScanOptions, "");
    put(ds, DCM_MRAcquisitionType, "2D");
    put(ds, DCM_RepetitionTime, "500");
    put(ds, DCM_EchoTime, "15");
    put(ds, DCM_EchoTrainLength, "1");
    put(ds, DCM_MagneticFieldStrength, "1.5");
  }

  put(ds, DCM_SamplesPerPixel, std::to_string(s.samplesPerPixel));
  put(ds, DCM_PhotometricInterpretation, s.photometric);
  if (s.samplesPerPixel > 1) put(ds, DCM_PlanarConfiguration, std::to_string(s.planarConfiguration));
  if (s.frames > 1) {
    put(ds, DCM_NumberOfFrames, std::to_string(s.frames));
    check(ds.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_FrameTime), "FrameIncrementPointer");
    put(ds, DCM_FrameTime, "100");
  }
  put(ds, DCM_Rows, std::to_string(s.rows));
  put(ds, DCM_Columns, std::to_string(s.columns));
  put(ds, DCM_BitsAllocated, std::to_string(s.bitsAllocated));
  put(ds, DCM_BitsStored, std::to_string(s.bitsStored));
  put(ds, DCM_HighBit, std::to_string(s.bitsStored - 1));
  put(ds, DCM_PixelRepresentation, s.signedPixels ? "1" : "0");

  if (s.samplesPerPixel == 1) {
    int64_t lo = 0, hi = 0;
    valueRange(s, lo, hi);
    double intercept = 0;
    if (s.modality == "CT" && !s.signedPixels) intercept = -1024;  // the usual unsigned CT encoding
    if (sopClass == kCtImage || sopClass == kMfGrayWordSc || s.modality == "CT") {
      put(ds, DCM_RescaleIntercept, std::to_string(int(intercept)));
      put(ds, DCM_RescaleSlope, "1");
      put(ds, DCM_RescaleType, s.modality == "CT" ? "HU" : "US");
    }
    if (s.modality == "CT") {
      put(ds, DCM_WindowCenter, "40");
      put(ds, DCM_WindowWidth, "400");
    } else {
      put(ds, DCM_WindowCenter, std::to_string((lo + hi) / 2 + int64_t(intercept)));
      put(ds, DCM_WindowWidth, std::to_string(hi - lo + 1));
    }
  }

  std::vector<uint8_t> bytes = expectedPixels(s);
  if (s.bitsAllocated == 8) {
    check(ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()), "PixelData");
  } else {
    std::vector<Uint16> words(bytes.size() / 2);
    for (std::size_t i = 0; i < words.size(); ++i) words[i] = Uint16(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    check(ds.putAndInsertUint16Array(DCM_PixelData, words.data(), words.size()), "PixelData");
  }
}

// Serialises through a small buffer: DCMTK asks for a flush whenever it fills.
std::string writeToMemory(DcmFileFormat& file, E_TransferSyntax xfer = EXS_LittleEndianExplicit,
                          E_EncodingType encoding = EET_ExplicitLength) {
  std::vector<char> chunk(256 * 1024);
  DcmOutputBufferStream out(chunk.data(), chunk.size());
  std::string result;
  file.transferInit();
  OFCondition cond;
  do {
    cond = file.write(out, xfer, encoding, nullptr, EGL_recalcGL, EPD_noChange, 0, 0, 0, EWM_createNewMeta);
    void* data = nullptr;
    offile_off_t length = 0;
    out.flushBuffer(data, length);
    result.append(static_cast<const char*>(data), std::size_t(length));
  } while (cond == EC_StreamNotifyClient);
  file.transferEnd();
  check(cond, "writing the file");
  return result;
}

}  // namespace

std::size_t pixelByteCount(const ImageSpec& spec) {
  return spec.noPixelData ? 0 : imageBytes(spec);
}

std::vector<uint8_t> expectedPixels(const ImageSpec& spec) {
  validate(spec);
  if (spec.noPixelData) return {};
  const std::vector<int64_t> values = storedValues(spec);
  std::vector<uint8_t> bytes;
  bytes.reserve(imageBytes(spec) + 1);
  // Bits above HighBit stay zero, also for signed values (two's complement
  // cut to BitsStored), so "unused bits are zero" holds for every sample.
  const uint32_t mask = (uint32_t{1} << spec.bitsStored) - 1;
  for (int64_t v : values) {
    const uint32_t word = uint32_t(v) & mask;
    bytes.push_back(uint8_t(word & 0xFF));
    if (spec.bitsAllocated == 16) bytes.push_back(uint8_t(word >> 8));
  }
  if (bytes.size() % 2 != 0) bytes.push_back(0);  // DICOM values have even length
  return bytes;
}

ImageSpec withIdentity(const ImageSpec& spec) {
  ImageSpec s = spec;
  const std::string seed = std::to_string(s.seed);
  if (s.patientId.empty()) s.patientId = "RT" + seed;
  if (s.patientName.empty()) s.patientName = "Test^Seed" + seed;
  if (s.accessionNumber.empty()) s.accessionNumber = "A" + seed;
  if (s.institutionName.empty()) s.institutionName = "Router Test Hospital";
  if (s.studyDescription.empty()) s.studyDescription = "Router test study";
  if (s.studyInstanceUid.empty()) s.studyInstanceUid = uid(1, s, s.patientId);
  if (s.seriesInstanceUid.empty()) s.seriesInstanceUid = uid(2, s, s.patientId + "|" + s.modality + "|" + s.name);
  if (s.sopInstanceUid.empty()) {
    s.sopInstanceUid = uid(3, s, s.patientId + "|" + s.name, std::to_string(std::max(0, s.instanceNumber)));
  }
  return s;
}

namespace {

void fill(DcmFileFormat& file, const ImageSpec& spec) {
  validate(spec);
  const ImageSpec s = withIdentity(spec);
  DcmDataset& ds = *file.getDataset();
  if (isSr(s)) {
    addStructuredReport(ds, s);
  } else {
    addImage(ds, s);
  }
}

}  // namespace

std::string makeInstance(const ImageSpec& spec) {
  DcmFileFormat file;
  fill(file, spec);
  return writeToMemory(file);
}

std::vector<ImageSpec> standardSuite() {
  std::vector<ImageSpec> suite;
  auto add = [&](const std::string& name, const std::string& modality) -> ImageSpec& {
    ImageSpec s;
    s.name = name;
    s.modality = modality;
    s.instanceNumber = int(suite.size()) + 1;
    suite.push_back(s);
    return suite.back();
  };
  {
    ImageSpec& s = add("ct-s16", "CT");
    s.signedPixels = true;
  }
  add("ct-u16", "CT");  // unsigned 16-bit, values above 32767
  {
    ImageSpec& s = add("ct-12in16", "CT");
    s.bitsStored = 12;
  }
  {
    ImageSpec& s = add("mr-s16", "MR");
    s.signedPixels = true;
    s.rows = 96;
    s.columns = 80;
  }
  {
    ImageSpec& s = add("sc-mono8", "OT");
    s.bitsAllocated = s.bitsStored = 8;
  }
  {
    ImageSpec& s = add("sc-rgb-planar0", "OT");
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
  }
  {
    ImageSpec& s = add("sc-rgb-planar1", "OT");
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
    s.planarConfiguration = 1;
  }
  {
    ImageSpec& s = add("mf-gray16", "OT");
    s.frames = 5;
    s.rows = 48;
    s.columns = 40;
  }
  {
    ImageSpec& s = add("mf-rgb", "OT");
    s.frames = 3;
    s.rows = 40;
    s.columns = 56;
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
  }
  {
    ImageSpec& s = add("ct-odd", "CT");
    s.signedPixels = true;
    s.rows = 93;
    s.columns = 127;
  }
  {
    ImageSpec& s = add("sc-mono8-odd", "OT");  // 127*93 bytes: odd, padded to even
    s.bitsAllocated = s.bitsStored = 8;
    s.rows = 93;
    s.columns = 127;
  }
  {
    ImageSpec& s = add("sc-rgb-odd", "OT");
    s.bitsAllocated = s.bitsStored = 8;
    s.samplesPerPixel = 3;
    s.photometric = "RGB";
    s.rows = 31;
    s.columns = 33;
  }
  {
    ImageSpec& s = add("sr-text", "SR");
    s.noPixelData = true;
  }
  {
    ImageSpec& s = add("sr-dose", "SR");
    s.noPixelData = true;
    s.sopClassUid = kXRayDoseSr;
  }
  return suite;
}

std::vector<ImageSpec> ctSeries(int count, uint32_t seed, int rows, int columns) {
  std::vector<ImageSpec> series;
  for (int i = 1; i <= count; ++i) {
    ImageSpec s;
    s.name = "ct-series";
    s.seed = seed;
    s.signedPixels = true;
    s.rows = rows;
    s.columns = columns;
    s.instanceNumber = i;  // the study/series UIDs do not depend on it, the SOP UID does
    series.push_back(s);
  }
  return series;
}

// ---------------------------------------------------------------------------
// Hostile data. Each case starts from an ImageSpec (so its pixels are known)
// and is then broken on purpose, with DCMTK where it allows it and by
// patching the written bytes where it does not (DCMTK cleans up what it
// writes: UID padding, VRs).

namespace {

constexpr const char* kRtDose = "1.2.840.10008.5.1.4.1.1.481.2";  // 29 characters: odd, NUL-padded

const char* const kDeliver = "deliver";
const char* const kRefuse = "refuse";

std::unique_ptr<DcmFileFormat> readFromMemory(const std::string& bytes) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  auto file = std::make_unique<DcmFileFormat>();
  file->transferInit();
  check(file->read(stream), "reading a generated file back");
  file->transferEnd();
  check(file->loadAllDataIntoMemory(), "loading a generated file");
  return file;
}

std::string transcodeTo(const std::string& bytes, const char* syntax) {
  router::TranscodeOptions options;
  return router::makeTranscoder()->transcode(bytes, syntax, options);
}

E_TransferSyntax xferOf(const std::string& uid) { return DcmXfer(uid.c_str()).getXfer(); }

// The native pixel bytes of a file (decoded by the project's transcoder
// when compressed), cut to `count`.
std::vector<uint8_t> nativePixels(const std::string& bytes, std::size_t count) {
  auto file = readFromMemory(transcodeTo(bytes, router::ts::kExplicitVRLittleEndian));
  DcmElement* element = nullptr;
  check(file->getDataset()->findAndGetElement(DCM_PixelData, element), "PixelData");
  Uint8* data = nullptr;
  check(element->getUint8Array(data), "PixelData bytes");
  if (element->getLength() < count) throw RouterError("test-data: decoded PixelData is too short");
  return std::vector<uint8_t>(data, data + count);
}

std::vector<uint8_t> describedPixels(const ImageSpec& spec) {
  std::vector<uint8_t> pixels = expectedPixels(spec);
  pixels.resize(pixelByteCount(spec));
  return pixels;
}

// Replaces the one occurrence of `from` after the meta header by `to`.
void patch(std::string& bytes, const std::string& from, const std::string& to) {
  const std::size_t at = bytes.find(from, 132);
  if (at == std::string::npos || bytes.find(from, at + 1) != std::string::npos)
    throw RouterError("test-data: cannot patch a generated file (pattern not found once)");
  bytes.replace(at, from.size(), to);
}

std::string le16(uint16_t v) { return std::string{char(v & 0xff), char(v >> 8)}; }
std::string le32(uint32_t v) { return le16(uint16_t(v & 0xffff)) + le16(uint16_t(v >> 16)); }

// An explicit VR element header with a 2-byte length (UI, LO, ...).
std::string shortHeader(uint16_t group, uint16_t element, const char* vr, std::size_t length) {
  return le16(group) + le16(element) + vr + le16(uint16_t(length));
}

std::string randomBytes(Rng& rng, std::size_t count) {
  std::string out(count, '\0');
  for (char& c : out) c = static_cast<char>(rng.next() & 0xff);
  return out;
}

// Replaces the dataset's PixelData by fragments (offsets: the Basic Offset
// Table, empty for none), and writes the file in `xfer`.
std::string withFragments(DcmFileFormat& file, E_TransferSyntax xfer, const std::vector<std::string>& fragments,
                          const std::vector<uint32_t>& offsets) {
  auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
  auto* table = new DcmPixelItem(DCM_PixelItemTag);
  std::string tableBytes;
  for (uint32_t offset : offsets) tableBytes += le32(offset);
  if (!tableBytes.empty())
    check(table->putUint8Array(reinterpret_cast<const Uint8*>(tableBytes.data()), Uint32(tableBytes.size())), "BOT");
  sequence->insert(table);
  for (const std::string& fragment : fragments) {
    auto* item = new DcmPixelItem(DCM_PixelItemTag);
    check(item->putUint8Array(reinterpret_cast<const Uint8*>(fragment.data()), Uint32(fragment.size())), "fragment");
    sequence->insert(item);
  }
  auto* pixelData = new DcmPixelData(DCM_PixelData);
  pixelData->putOriginalRepresentation(xfer, nullptr, sequence);
  check(file.getDataset()->insert(pixelData, /*replaceOld=*/true), "PixelData");
  return writeToMemory(file, xfer);
}

// The fragments (without the offset table) of an encapsulated file.
std::vector<std::string> fragmentsOf(DcmFileFormat& file) {
  DcmElement* element = nullptr;
  check(file.getDataset()->findAndGetElement(DCM_PixelData, element), "PixelData");
  DcmPixelSequence* sequence = nullptr;
  const E_TransferSyntax xfer = file.getDataset()->getOriginalXfer();
  check(static_cast<DcmPixelData*>(element)->getEncapsulatedRepresentation(xfer, nullptr, sequence), "fragments");
  std::vector<std::string> fragments;
  for (unsigned long i = 1; sequence && i < sequence->card(); ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    check(sequence->getItem(item, i), "fragment");
    check(item->getUint8Array(data), "fragment bytes");
    fragments.emplace_back(reinterpret_cast<const char*>(data), item->getLength());
  }
  return fragments;
}

void putUS(DcmItem& item, const DcmTagKey& tag, Uint16 value) {
  check(item.putAndInsertUint16(tag, value), DcmTag(tag).getTagName());
}

ImageSpec baseSpec(const std::string& name, uint32_t seed, const std::string& modality) {
  ImageSpec s;
  s.name = name;
  s.modality = modality;
  s.seed = seed;
  s.patientId = "HOSTILE" + std::to_string(seed);
  s.patientName = "Hostile^Data";
  s.studyDescription = "Router hostile data";
  return s;
}

ImageSpec rgb8(const std::string& name, uint32_t seed, int rows, int columns) {
  ImageSpec s = baseSpec(name, seed, "OT");
  s.bitsAllocated = s.bitsStored = 8;
  s.samplesPerPixel = 3;
  s.photometric = "RGB";
  s.rows = rows;
  s.columns = columns;
  return s;
}

// 16-bit images cannot become 8-bit lossy JPEG.
std::map<std::string, std::string> no8BitJpeg() {
  return {{"JPEGBaseline8Bit", kRefuse}, {"JPEGExtended12Bit", kRefuse}};
}

HostileCase delivered(const ImageSpec& spec, const std::string& what, std::string bytes) {
  HostileCase c;
  c.name = spec.name;
  c.what = what;
  c.bytes = std::move(bytes);
  c.sopInstanceUid = withIdentity(spec).sopInstanceUid;
  c.expectation = kDeliver;
  c.pixels = describedPixels(spec);
  c.transferSyntax = router::ts::kExplicitVRLittleEndian;
  if (spec.bitsAllocated > 8) c.exceptions = no8BitJpeg();
  return c;
}

HostileCase refused(const ImageSpec& spec, const std::string& what, std::string bytes, const std::string& reason,
                    const std::string& syntax = router::ts::kExplicitVRLittleEndian) {
  HostileCase c;
  c.name = spec.name;
  c.what = what;
  c.bytes = std::move(bytes);
  c.sopInstanceUid = withIdentity(spec).sopInstanceUid;
  c.expectation = kRefuse;
  c.reason = reason;
  c.transferSyntax = syntax;
  // Asked for the syntax it is in, the transcoder has nothing to convert.
  c.exceptions[router::transferSyntaxName(syntax)] = kDeliver;
  return c;
}

HostileCase paddedPixels(const ImageSpec& spec, std::size_t extra, const std::string& what) {
  DcmFileFormat file;
  fill(file, spec);
  std::vector<uint8_t> bytes = describedPixels(spec);
  for (std::size_t i = 0; i < extra; ++i) bytes.push_back(uint8_t(0xA5 ^ i));
  if (bytes.size() % 2) bytes.push_back(0);
  if (spec.bitsAllocated == 8) {
    check(file.getDataset()->putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()), "PixelData");
  } else {
    std::vector<Uint16> words(bytes.size() / 2);
    for (std::size_t i = 0; i < words.size(); ++i) words[i] = Uint16(bytes[2 * i] | (bytes[2 * i + 1] << 8));
    check(file.getDataset()->putAndInsertUint16Array(DCM_PixelData, words.data(), words.size()), "PixelData");
  }
  return delivered(spec, what, writeToMemory(file));
}

HostileCase shortPixels(uint32_t seed) {
  ImageSpec spec = baseSpec("short-pixels", seed, "CT");
  spec.signedPixels = true;
  DcmFileFormat file;
  fill(file, spec);
  std::vector<Uint16> half(std::size_t(spec.rows) * spec.columns / 2, 0x0123);
  check(file.getDataset()->putAndInsertUint16Array(DCM_PixelData, half.data(), half.size()), "PixelData");
  return refused(spec, "64x64 16-bit CT whose PixelData holds half the described bytes", writeToMemory(file),
                 "PixelData holds 4096 bytes");
}

HostileCase rowsColumnsOverflow(uint32_t seed) {
  ImageSpec spec = baseSpec("rows-columns-overflow", seed, "CT");
  spec.rows = spec.columns = 8;  // 128 bytes of pixels
  DcmFileFormat file;
  fill(file, spec);
  putUS(*file.getDataset(), DCM_Rows, 65535);
  putUS(*file.getDataset(), DCM_Columns, 65535);
  return refused(spec, "Rows and Columns 65535 (8 GiB of 16-bit pixels described) with 128 bytes of PixelData",
                 writeToMemory(file), "Rows 65535");
}

HostileCase bitsStoredAboveAllocated(uint32_t seed) {
  ImageSpec spec = baseSpec("bits-stored-above-allocated", seed, "OT");
  spec.bitsAllocated = spec.bitsStored = 8;
  DcmFileFormat file;
  fill(file, spec);
  putUS(*file.getDataset(), DCM_BitsStored, 12);
  putUS(*file.getDataset(), DCM_HighBit, 11);
  return refused(spec, "8-bit mono image claiming BitsStored 12, HighBit 11", writeToMemory(file), "BitsStored 12");
}

HostileCase garbageFragments(const std::string& name, uint32_t seed, E_TransferSyntax xfer, const char* syntax,
                             const std::string& reason) {
  ImageSpec spec = baseSpec(name, seed, "OT");
  spec.frames = 2;
  spec.bitsAllocated = spec.bitsStored = 8;
  DcmFileFormat file;
  fill(file, spec);
  Rng rng(fnv1a(name) ^ seed);
  const std::string bytes = withFragments(file, xfer, {randomBytes(rng, 1500), randomBytes(rng, 998)}, {});
  return refused(spec, std::string(router::transferSyntaxName(syntax)) + " file whose two fragments are random bytes",
                 bytes, reason, syntax);
}

// A file encoded by the project's transcoder, then re-described by `edit`.
HostileCase redescribed(const ImageSpec& spec, const char* syntax, const std::string& what, const std::string& reason,
                        void (*edit)(DcmDataset&)) {
  auto file = readFromMemory(transcodeTo(makeInstance(spec), syntax));
  edit(*file->getDataset());
  return refused(spec, what, writeToMemory(*file, xferOf(syntax)), reason, syntax);
}

HostileCase fragmentTable(const std::string& name, uint32_t seed, bool badTable) {
  ImageSpec spec = baseSpec(name, seed, "OT");
  spec.frames = 3;
  spec.rows = 24;
  spec.columns = 20;
  auto file = readFromMemory(transcodeTo(makeInstance(spec), router::ts::kJPEGLSLossless));
  std::vector<std::string> fragments = fragmentsOf(*file);
  std::vector<uint32_t> offsets;
  std::string what;
  if (badTable) {
    offsets = {0, uint32_t(8 + fragments[0].size()), 0x7ffffff0u};
    what = "3-frame JPEG-LS whose Basic Offset Table points far past the fragments";
  } else {
    fragments.pop_back();
    what = "3-frame JPEG-LS with only 2 fragments and no Basic Offset Table";
  }
  return refused(spec, what, withFragments(*file, EXS_JPEGLSLossless, fragments, offsets),
                 badTable ? "Basic Offset Table" : "NumberOfFrames says 3", router::ts::kJPEGLSLossless);
}

ImageSpec rtDoseSpec(const std::string& name, uint32_t seed) {
  ImageSpec spec = baseSpec(name, seed, "RTDOSE");
  spec.sopClassUid = kRtDose;
  spec.frames = 4;
  spec.rows = 32;
  spec.columns = 30;
  // An odd-length instance UID: written with a NUL pad.
  spec.sopInstanceUid = uid(3, withIdentity(spec), name);
  if (spec.sopInstanceUid.size() % 2 == 0) spec.sopInstanceUid += "7";
  return spec;
}

HostileCase rtDose(uint32_t seed, bool classAsUn) {
  const ImageSpec spec = rtDoseSpec(classAsUn ? "rtdose-uid-as-un" : "rtdose-nul-uids", seed);
  std::string bytes = makeInstance(spec);
  std::string what = "RT Dose whose SOP Class UID (29 characters) and SOP Instance UID (odd) carry a NUL pad";
  if (classAsUn) {
    // What made DCMTK print "31\2e\32\2e...\00" and put it in a
    // presentation context: the UID element with VR UN, NUL included.
    const std::string value = std::string(kRtDose) + '\0';
    patch(bytes, shortHeader(0x0008, 0x0016, "UI", value.size()) + value,
          le16(0x0008) + le16(0x0016) + "UN" + le16(0) + le32(uint32_t(value.size())) + value);
    what = "RT Dose whose SOP Class UID is encoded with VR UN, NUL pad included";
  }
  return delivered(spec, what, bytes);
}

HostileCase paddedStrings(uint32_t seed) {
  ImageSpec spec = baseSpec("padded-strings", seed, "CT");
  spec.signedPixels = true;
  spec = withIdentity(spec);
  if (spec.studyInstanceUid.size() % 2 == 0) spec.studyInstanceUid += "3";
  spec.patientName = "AAAAAAAAAA";
  spec.patientId = "BBBBBBBB";
  spec.studyDescription = "CCCCCCCC";
  spec.institutionName = "DDDDDDDDDD";
  spec.accessionNumber = "EEEE";
  std::string bytes = makeInstance(spec);
  auto swap = [&](uint16_t group, uint16_t element, const char* vr, const std::string& from, const std::string& to) {
    patch(bytes, shortHeader(group, element, vr, from.size()) + from, shortHeader(group, element, vr, to.size()) + to);
  };
  swap(0x0010, 0x0010, "PN", spec.patientName, std::string("Doe^Jane\0\0", 10));
  swap(0x0010, 0x0020, "LO", spec.patientId, "PID-7   ");
  swap(0x0008, 0x1030, "LO", spec.studyDescription, std::string("Head CT\0", 8));
  swap(0x0008, 0x0080, "LO", spec.institutionName, "  Site B  ");
  swap(0x0008, 0x0050, "SH", spec.accessionNumber, std::string(4, '\0'));
  swap(0x0020, 0x000d, "UI", spec.studyInstanceUid + '\0', spec.studyInstanceUid + ' ');
  return delivered(spec,
                   "CT with NUL-padded PatientName and StudyDescription, space-padded PatientID and "
                   "InstitutionName, an all-NUL AccessionNumber and a space-padded StudyInstanceUID",
                   bytes);
}

HostileCase privateSequence(uint32_t seed) {
  ImageSpec spec = baseSpec("private-sequence", seed, "CT");
  spec.signedPixels = true;
  DcmFileFormat file;
  fill(file, spec);
  DcmDataset& ds = *file.getDataset();
  check(ds.putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "ROUTER HOSTILE"), "private creator");
  auto* sequence = new DcmSequenceOfItems(DcmTag(0x0029, 0x1010, EVR_SQ));
  for (int i = 0; i < 2; ++i) {
    auto* item = new DcmItem();
    check(item->putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "ROUTER HOSTILE"), "private creator");
    check(item->putAndInsertString(DcmTag(0x0029, 0x1011, EVR_LO), i ? "second" : "first"), "private LO");
    const Uint8 blob[6] = {1, 2, 3, 0, 0xff, 0xfe};
    check(item->putAndInsertUint8Array(DcmTag(0x0029, 0x1012, EVR_OB), blob, sizeof blob), "private OB");
    auto* nested = new DcmSequenceOfItems(DcmTag(0x0029, 0x1013, EVR_SQ));
    auto* inner = new DcmItem();
    check(inner->putAndInsertUint16(DcmTag(0x0029, 0x1014, EVR_US), Uint16(7 + i)), "private US");
    nested->insert(inner);
    item->insert(nested);
    sequence->insert(item);
  }
  check(ds.insert(sequence), "private sequence");
  HostileCase c = delivered(spec, "implicit VR CT with a private sequence of undefined length holding a nested one",
                            writeToMemory(file, EXS_LittleEndianImplicit, EET_UndefinedLength));
  c.transferSyntax = router::ts::kImplicitVRLittleEndian;
  return c;
}

HostileCase truncatedFile(uint32_t seed) {
  ImageSpec spec = baseSpec("truncated-file", seed, "CT");
  spec.signedPixels = true;
  const std::string bytes = makeInstance(spec);
  HostileCase c = refused(spec, "64x64 CT cut off in the middle of its PixelData", bytes.substr(0, bytes.size() * 6 / 10),
                          "not a readable DICOM file");
  c.exceptions.clear();  // not even readable: refused whatever the target
  return c;
}

}  // namespace

const std::string& HostileCase::expectationFor(const std::string& targetKeyword) const {
  const auto found = exceptions.find(targetKeyword);
  return found == exceptions.end() ? expectation : found->second;
}

std::vector<HostileCase> hostileSuite(uint32_t seed) {
  std::vector<HostileCase> suite;
  {
    ImageSpec s = baseSpec("mr-padded-pixels", seed, "MR");
    s.signedPixels = true;
    s.rows = 96;
    s.columns = 80;
    HostileCase c = paddedPixels(s, 6,
                                 "16-bit MR whose PixelData is 6 bytes longer than described "
                                 "(GDCM's JPEG 2000 encoder asserted in rawtoimage)");
    // Full signed range: -32768 is within NEAR of the end (see CharlsFamily).
    c.exceptions["JPEGLSNearLossless"] = kRefuse;
    suite.push_back(c);
  }
  {
    ImageSpec s = baseSpec("mf-odd-padded-pixels", seed, "OT");
    s.frames = 3;
    s.rows = 31;
    s.columns = 33;
    s.bitsAllocated = s.bitsStored = 8;
    suite.push_back(paddedPixels(s, 1000, "3-frame 8-bit 33x31 image with 1000 bytes of PixelData too many"));
  }
  {
    const ImageSpec s = rgb8("rgb-odd-255", seed, 255, 255);
    suite.push_back(delivered(s, "255x255 8-bit RGB: an odd number of bytes, one pad byte", makeInstance(s)));
  }
  {
    ImageSpec s = rgb8("ybr-full-odd", seed, 93, 127);
    s.photometric = "YBR_FULL";
    suite.push_back(delivered(s, "127x93 8-bit YBR_FULL: an odd number of bytes", makeInstance(s)));
  }
  {
    const ImageSpec s = rgb8("rgb-odd-jpeg-baseline", seed, 255, 255);
    const std::string jpeg = transcodeTo(makeInstance(s), router::ts::kJPEGBaseline8Bit);
    HostileCase c = delivered(s, "the 255x255 RGB as JPEG baseline (YBR_FULL_422), encoded by the appliance", jpeg);
    c.pixels = nativePixels(jpeg, pixelByteCount(s));
    c.transferSyntax = router::ts::kJPEGBaseline8Bit;
    OFString uid;
    readFromMemory(jpeg)->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);  // lossy: a new one
    c.sopInstanceUid = uid.c_str();
    suite.push_back(c);
  }
  {
    const ImageSpec s = rgb8("rgb-1x1", seed, 1, 1);
    suite.push_back(delivered(s, "1x1 8-bit RGB (GDCM's JPEG 2000 encoder overran its output buffer)", makeInstance(s)));
  }
  suite.push_back(shortPixels(seed));
  suite.push_back(rowsColumnsOverflow(seed));
  suite.push_back(bitsStoredAboveAllocated(seed));
  suite.push_back(garbageFragments("jpegls-garbage-fragments", seed, EXS_JPEGLSLossless, router::ts::kJPEGLSLossless,
                                   "JPEG-LS"));
  suite.push_back(garbageFragments("j2k-garbage-fragments", seed, EXS_JPEG2000LosslessOnly,
                                   router::ts::kJPEG2000Lossless, "JPEG 2000"));
  {
    ImageSpec s = rgb8("j2k-stream-larger-than-dataset", seed, 64, 64);
    suite.push_back(redescribed(s, router::ts::kJPEG2000Lossless,
                                "64x64 RGB JPEG 2000 codestream in a dataset that says 32x32 "
                                "(GDCM's JPEG 2000 decoder overran its buffer)",
                                "JPEG 2000 frame 1 is 64x64", [](DcmDataset& ds) {
                                  putUS(ds, DCM_Rows, 32);
                                  putUS(ds, DCM_Columns, 32);
                                }));
  }
  {
    ImageSpec s = baseSpec("j2k-components-mismatch", seed, "OT");
    s.bitsAllocated = s.bitsStored = 8;
    suite.push_back(redescribed(s, router::ts::kJPEG2000Lossless,
                                "1-component JPEG 2000 codestream in a dataset that says RGB "
                                "(GDCM's JPEG 2000 decoder asserted on the component count)",
                                "1 component", [](DcmDataset& ds) {
                                  putUS(ds, DCM_SamplesPerPixel, 3);
                                  putUS(ds, DCM_PlanarConfiguration, 0);
                                  ds.putAndInsertString(DCM_PhotometricInterpretation, "RGB");
                                }));
  }
  suite.push_back(fragmentTable("bot-outside-data", seed, true));
  suite.push_back(fragmentTable("fragments-fewer-than-frames", seed, false));
  suite.push_back(rtDose(seed, false));
  suite.push_back(rtDose(seed, true));
  suite.push_back(paddedStrings(seed));
  suite.push_back(privateSequence(seed));
  suite.push_back(truncatedFile(seed));
  return suite;
}

std::string sopInstanceUidOf(const std::string& part10) {
  auto file = readFromMemory(part10);
  OFString uid;
  file->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  return router::trimUid(uid.c_str());
}

}  // namespace router::testdata
