// De-identification (plugins/core/deid): a generated CT carrying every
// attribute of the profile table, at the top level and in items at depth 1
// and 2, with private and overlay/curve groups, de-identified under several
// option sets and checked element by element against the table; UIDs and
// pseudonyms recomputed with OpenSSL (deid_support.h), not with the code
// under test; consistency across a series and across runs; markings; the
// burned-in refusal; pixels bit-exact. dciodvfy: deid_validator_test.cpp.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <set>

#include "plugins/core/deid/DateShift.h"
#include "plugins/core/deid/KeyedHash.h"
#include "plugins/core/deid/Marking.h"
#include "tests/generator/TestSupport.h"
#include "tests/unit/deid_support.h"

namespace router::deid {
namespace {

using namespace test;

// Every string value and UID in the dataset, at any depth.
void collectValues(DcmItem& item, std::set<std::string>& out) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    if (e->ident() == EVR_SQ) {
      auto* sequence = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < sequence->card(); ++j)
        collectValues(*sequence->getItem(j), out);
      continue;
    }
    OFString value;
    if (e->isaString() && e->getOFStringArray(value).good()) {
      std::string text(value.c_str(), value.length());
      for (size_t start = 0, end; start <= text.size(); start = end + 1) {
        end = text.find('\\', start);
        if (end == std::string::npos) end = text.size();
        out.insert(e->ident() == EVR_UI ? trimUid(text.substr(start, end - start))
                                        : trimText(text.substr(start, end - start), false));
      }
    }
  }
}

// Every tag at any depth whose group is odd or a curve/overlay group.
void collectForbiddenTags(DcmItem& item, const std::string& path, std::vector<std::string>& out) {
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    const DcmTagKey tag = e->getTag();
    const Uint16 g = tag.getGroup();
    const bool safe = tag == DcmTagKey(0x0009, 0x0010) || tag == DcmTagKey(0x0009, 0x1001);
    if ((tag.isPrivate() && !safe) || (g >= 0x5000 && g <= 0x50ff) || (g >= 0x6000 && g <= 0x60ff))
      out.push_back(path + tag.toString().c_str());
    if (e->ident() == EVR_SQ) {
      auto* sequence = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long j = 0; j < sequence->card(); ++j)
        collectForbiddenTags(*sequence->getItem(j), path + tag.toString().c_str() + "/", out);
    }
  }
}

// What the table says must have happened to one element: the codes resolved
// the way Deidentifier.h documents it.
enum class Expect { Absent, Empty, Dummy, Mapped, Kept, Shifted };

Expect expectationFor(const ProfileRow& row, const ProfileOptions& options, DcmEVR vr) {
  const bool temporal = vr == EVR_DA || vr == EVR_DT || vr == EVR_TM;
  switch (effectiveCode(row, options, temporal)) {
    case Code::X:
      return Expect::Absent;
    case Code::Z:
      return Expect::Empty;
    case Code::XZ:
      if (vr == EVR_SQ && !(row.group == 0x0040 && row.element == 0x0555))
        return Expect::Absent;  // Type 3
      return Expect::Empty;
    case Code::D:
    case Code::XD:
    case Code::ZD:
    case Code::XZD:
      // Type 1C only with the approval number (0012,0082), which is X: removed with it.
      if (row.group == 0x0012 && row.element == 0x0081) return Expect::Absent;
      return vr == EVR_UI ? Expect::Mapped : Expect::Dummy;
    case Code::U:
      return Expect::Mapped;
    case Code::K:
      return Expect::Kept;
    case Code::XZU:
      return vr == EVR_SQ ? Expect::Kept : Expect::Empty;
    case Code::C:
      // Bytes (Exif maker notes and device settings are OB) cannot be cleaned: they go.
      if (vr == EVR_OB || vr == EVR_OW || vr == EVR_UN) return Expect::Absent;
      return (vr == EVR_DA || vr == EVR_DT) &&
                     options.count(ProfileOption::RetainLongitudinalModifiedDates)
                 ? Expect::Shifted
                 : Expect::Kept;
    case Code::None:
      break;
  }
  ADD_FAILURE() << "row without a basic code: " << row.name;
  return Expect::Kept;
}

std::string dummyFor(DcmEVR vr) {
  switch (vr) {
    case EVR_DA:
      return "19000101";
    case EVR_TM:
      return "000000";
    case EVR_DT:
      return "19000101000000";
    case EVR_AS:
      return "000Y";
    case EVR_DS:
    case EVR_IS:
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
    case EVR_FD:
      return "0";
    default:
      return "ANONYMIZED";
  }
}

struct Checked {
  int rows = 0;
  std::set<std::string> mustBeGone;  // original values whose element was not kept
};

// One row at one depth, against the table.
void checkRow(DcmItem& item, const ProfileRow& row, size_t index, int depth,
              const ProfileOptions& options, int shiftDays, Checked& checked) {
  SCOPED_TRACE(label(row, depth));
  const DcmEVR vr = vrOf(row);
  const bool retainUids = options.count(ProfileOption::RetainUids) != 0;
  const Expect expect = expectationFor(row, options, vr);
  const DcmTagKey key(row.group, row.element);
  ++checked.rows;
  DcmElement* e = nullptr;
  const bool present = item.findAndGetElement(key, e, false).good() && e != nullptr;
  const std::string original = (vr == EVR_SQ || vr == EVR_OB || vr == EVR_OW || vr == EVR_UN)
                                   ? std::string()
                                   : valueFor(row, index, vr);
  if (!retainUids) checked.mustBeGone.insert(childUidFor(index));
  if (expect == Expect::Absent || expect == Expect::Empty || expect == Expect::Dummy)
    checked.mustBeGone.insert("C" + hex(row));
  const bool originalStays = expect == Expect::Kept || expect == Expect::Shifted;
  if (!originalStays && !original.empty() && vr != EVR_US && vr != EVR_SS && vr != EVR_UL &&
      vr != EVR_SL && vr != EVR_FL && vr != EVR_FD && vr != EVR_DS && vr != EVR_IS) {
    checked.mustBeGone.insert(original);
  }
  if (expect == Expect::Absent) {
    EXPECT_FALSE(present) << "should be removed";
    return;
  }
  ASSERT_TRUE(present) << "should be present";

  if (vr == EVR_SQ) {
    auto* sequence = static_cast<DcmSequenceOfItems*>(e);
    if (expect == Expect::Empty) {
      EXPECT_EQ(sequence->card(), 0u) << "should have no items";
      return;
    }
    ASSERT_EQ(sequence->card(), 1u);
    DcmItem& child = *sequence->getItem(0);
    const std::string childUid = trimUid(stringAt(child, DCM_ReferencedSOPInstanceUID));
    EXPECT_EQ(childUid, retainUids ? childUidFor(index) : expectedUid(childUidFor(index)))
        << "UID inside";
    // A dummy sequence keeps its items with dummy text; others keep codes.
    EXPECT_EQ(trimmedAt(child, DCM_CodeValue),
              expect == Expect::Dummy ? "ANONYMIZED" : "C" + hex(row));
    return;
  }

  if (vr == EVR_OB || vr == EVR_OW || vr == EVR_UN) {
    Uint8* bytes = nullptr;
    const unsigned long length = e->getLength();
    if (vr == EVR_OW) {
      Uint16* words = nullptr;
      e->getUint16Array(words);
      bytes = reinterpret_cast<Uint8*>(words);
    } else {
      e->getUint8Array(bytes);
    }
    if (expect == Expect::Empty) {
      EXPECT_EQ(length, 0u);
    } else if (expect == Expect::Dummy) {
      ASSERT_EQ(length, 4u);
      for (unsigned long i = 0; i < length; ++i) EXPECT_EQ(bytes[i], 0) << "dummy bytes are zeros";
    } else {
      ASSERT_EQ(length, 4u);
      EXPECT_EQ(bytes[0], vr == EVR_OW ? 2 : 1) << "kept bytes";
    }
    return;
  }

  const std::string value = vr == EVR_UI ? trimUid(stringAt(item, key)) : trimmedAt(item, key);
  switch (expect) {
    case Expect::Empty:
      EXPECT_EQ(e->getLength(), 0u) << "should be zero length, is \"" << value << "\"";
      break;
    case Expect::Dummy:
      EXPECT_EQ(value, dummyFor(vr));
      break;
    case Expect::Mapped:
      EXPECT_EQ(value, expectedUid(original));
      break;  // Retain UIDs made the others K
    case Expect::Kept:
      EXPECT_EQ(value, original);
      break;
    case Expect::Shifted:
      EXPECT_EQ(value, vr == EVR_DA ? *shiftDate(original, shiftDays)
                                    : *shiftDateTime(original, shiftDays));
      EXPECT_NE(value, original);
      break;
    case Expect::Absent:
      break;
  }
}

void checkEveryRow(const ProfileOptions& profileOptions) {
  const std::string input = instanceWithEveryRow();
  Outcome out = deidentify(input, optionsWith(profileOptions));
  DcmDataset& top = *out.file->getDataset();
  DcmItem& depth1 = childOf(top, DCM_ReferencedSeriesSequence);
  DcmItem& depth2 = childOf(depth1, DCM_ReferencedSOPSequence);

  size_t count = 0;
  const ProfileRow* rows = profileRows(count);
  Checked checked;
  int depth = 0;
  for (DcmItem* item : std::vector<DcmItem*>{&top, &depth1, &depth2}) {
    for (size_t i = 0; i < count; ++i)
      if (isRowInDataset(rows[i]))
        checkRow(*item, rows[i], i, depth, profileOptions, out.result.dateShiftDays, checked);
    // The patient: the pseudonym everywhere, from the patient ID of the item
    // (the same value at every depth here).
    EXPECT_EQ(trimmedAt(*item, DCM_PatientID), expectedPseudonym(kPatientId)) << "depth " << depth;
    EXPECT_EQ(trimmedAt(*item, DCM_PatientName), expectedPseudonym(kPatientId))
        << "depth " << depth;
    ++depth;
  }
  EXPECT_EQ(checked.rows,
            3 * int(count - 5));  // 3 command/meta rows and the two patient rows left out
  EXPECT_EQ(out.result.pseudonym, expectedPseudonym(kPatientId));
  EXPECT_EQ(out.result.originalPatientId, kPatientId);
  EXPECT_EQ(out.result.originalPatientName, "Doe^Jane");

  // No value of an element that was not kept is anywhere in the output.
  std::set<std::string> values;
  collectValues(top, values);
  for (const std::string& gone : checked.mustBeGone)
    EXPECT_FALSE(values.count(gone)) << gone << " survived";
  EXPECT_FALSE(values.count("Doe^Jane"));
  EXPECT_FALSE(values.count(kPatientId));
  EXPECT_FALSE(values.count("Hidden^Name"));

  // Private elements: only the safe-listed one and its creator, at every depth.
  std::vector<std::string> forbidden;
  collectForbiddenTags(top, "", forbidden);
  EXPECT_TRUE(forbidden.empty()) << forbidden.size()
                                 << " private/curve/overlay elements left, first "
                                 << (forbidden.empty() ? "" : forbidden.front());
  for (DcmItem* item : std::vector<DcmItem*>{&top, &depth1, &depth2}) {
    EXPECT_EQ(trimmedAt(*item, DcmTagKey(0x0009, 0x0010)), "ROUTER SAFE");
    EXPECT_EQ(trimmedAt(*item, DcmTagKey(0x0009, 0x1001)), "private-safe");
  }

  // Pixels bit-exact.
  std::unique_ptr<DcmFileFormat> original = parseDicom(input);
  EXPECT_EQ(testdata::nativePixelBytes(top), testdata::nativePixelBytes(*original->getDataset()));
}

TEST(DeidTable, HasTheWholeStandardTable) {
  size_t count = 0;
  const ProfileRow* rows = profileRows(count);
  EXPECT_EQ(count, 617u);
  for (size_t i = 1; i < count; ++i) {
    const bool ascending =
        rows[i - 1].group < rows[i].group ||
        (rows[i - 1].group == rows[i].group && rows[i - 1].element < rows[i].element);
    EXPECT_TRUE(ascending) << rows[i].name;
  }
  for (size_t i = 0; i < count; ++i) EXPECT_NE(rows[i].basic, Code::None) << rows[i].name;
  EXPECT_EQ(findProfileRow(0x0008, 0x0060), nullptr);  // Modality: not identifying, not listed
}

// Rows checked by hand against PS3.15 Table E.1-1.
TEST(DeidTable, RowsAsTheStandardHasThem) {
  struct Pin {
    Uint16 g, e;
    Code basic;
    ProfileOption option;
    Code underOption;
  };
  using O = ProfileOption;
  const Pin pins[] = {
      {0x0008, 0x0050, Code::Z, O::RetainUids, Code::None},                // Accession Number
      {0x0008, 0x0020, Code::Z, O::RetainLongitudinalFullDates, Code::K},  // Study Date
      {0x0008, 0x0020, Code::Z, O::RetainLongitudinalModifiedDates, Code::C},
      {0x0008, 0x0080, Code::XZD, O::RetainInstitutionIdentity, Code::K},      // Institution Name
      {0x0008, 0x1030, Code::X, O::CleanDescriptors, Code::C},                 // Study Description
      {0x0008, 0x0018, Code::U, O::RetainUids, Code::K},                       // SOP Instance UID
      {0x0020, 0x000D, Code::U, O::RetainUids, Code::K},                       // Study Instance UID
      {0x0010, 0x0010, Code::Z, O::RetainPatientCharacteristics, Code::None},  // Patient's Name
      {0x0010, 0x0030, Code::Z, O::RetainLongitudinalFullDates, Code::None},   // Birth Date
      {0x0010, 0x0040, Code::Z, O::RetainPatientCharacteristics, Code::K},     // Patient's Sex
      {0x0010, 0x1010, Code::X, O::RetainPatientCharacteristics, Code::K},     // Patient's Age
      {0x0010, 0x2160, Code::X, O::RetainPatientCharacteristics, Code::K},     // Ethnic Group
      {0x0018, 0x1000, Code::XZD, O::RetainDeviceIdentity, Code::K},  // Device Serial Number
      {0x0008, 0x1010, Code::XZD, O::RetainDeviceIdentity, Code::K},  // Station Name
      {0x0008, 0x1140, Code::XZU, O::RetainUids, Code::K},            // Referenced Image Sequence
      {0x0040, 0xA730, Code::D, O::CleanStructuredContent, Code::C},  // Content Sequence
      {0x0070, 0x0001, Code::D, O::CleanGraphics, Code::C},           // Graphic Annotation Sequence
      {0x0008, 0x0090, Code::Z, O::RetainUids, Code::None},           // Referring Physician's Name
      {0x0020, 0x0010, Code::Z, O::RetainUids, Code::None},           // Study ID
      {0x0008, 0x1070, Code::XZD, O::RetainDeviceIdentity, Code::None},  // Operators' Name
      {0x0018, 0x1030, Code::XD, O::CleanDescriptors, Code::C},          // Protocol Name
      {0x0020, 0x0052, Code::U, O::RetainUids, Code::K},                 // Frame of Reference UID
  };
  for (const Pin& pin : pins) {
    const ProfileRow* row = findProfileRow(pin.g, pin.e);
    ASSERT_NE(row, nullptr) << std::hex << pin.g << "," << pin.e;
    EXPECT_EQ(row->basic, pin.basic) << row->name;
    EXPECT_EQ(row->option[size_t(pin.option)], pin.underOption)
        << row->name << " / " << optionNames(pin.option).meaning;
  }
}

TEST(DeidTable, OptionsHaveTheirCid7050Codes) {
  EXPECT_STREQ(optionNames(ProfileOption::RetainLongitudinalFullDates).code, "113106");
  EXPECT_STREQ(optionNames(ProfileOption::RetainPatientCharacteristics).code, "113108");
  EXPECT_STREQ(optionNames(ProfileOption::RetainDeviceIdentity).code, "113109");
  EXPECT_STREQ(optionNames(ProfileOption::RetainUids).code, "113110");
  EXPECT_STREQ(optionNames(ProfileOption::RetainInstitutionIdentity).code, "113112");
  EXPECT_STREQ(optionNames(ProfileOption::CleanDescriptors).code, "113105");
  EXPECT_EQ(parseProfileOption("RetainDeviceIdentity"), ProfileOption::RetainDeviceIdentity);
  EXPECT_EQ(parseProfileOption("retain-device"), std::nullopt);
}

TEST(DeidTable, OptionPrecedence) {
  ProfileOptions deviceAndShift = {ProfileOption::RetainDeviceIdentity,
                                   ProfileOption::RetainLongitudinalModifiedDates};
  const ProfileRow& calibration =
      *findProfileRow(0x0018, 0x1200);  // Date of Last Calibration: X, Dev K, dates K/C
  EXPECT_EQ(effectiveCode(calibration, {}, true), Code::X);
  EXPECT_EQ(effectiveCode(calibration, {ProfileOption::RetainDeviceIdentity}, true), Code::K);
  // A device date kept unshifted next to shifted dates would give the shift away.
  EXPECT_EQ(effectiveCode(calibration, deviceAndShift, true), Code::C);
  const ProfileRow& allergies = *findProfileRow(0x0010, 0x2110);  // X, Pat C, Desc C
  EXPECT_EQ(effectiveCode(allergies, {ProfileOption::RetainPatientCharacteristics}, false),
            Code::C);
  const ProfileRow& deviceUid = *findProfileRow(0x0018, 0x1002);  // U, UIDs K, Dev K
  EXPECT_EQ(effectiveCode(deviceUid, {}, false), Code::U);
  EXPECT_EQ(effectiveCode(deviceUid, {ProfileOption::RetainDeviceIdentity}, false), Code::K);
}

TEST(Deid, EveryRowAtEveryDepthUnderTheBasicProfile) {
  checkEveryRow({});
}

TEST(Deid, EveryRowAtEveryDepthWithEveryOptionAndFullDates) {
  checkEveryRow(kAllFullDates);
}

TEST(Deid, EveryRowAtEveryDepthWithModifiedDatesAndCleaning) {
  checkEveryRow({ProfileOption::RetainLongitudinalModifiedDates,
                 ProfileOption::RetainPatientCharacteristics, ProfileOption::CleanDescriptors,
                 ProfileOption::CleanStructuredContent, ProfileOption::CleanGraphics});
}

TEST(Deid, EveryRowWithDeviceAndInstitutionRetained) {
  checkEveryRow({ProfileOption::RetainDeviceIdentity, ProfileOption::RetainInstitutionIdentity});
}

// ---- Consistency ----------------------------------------------------------

struct SeriesOut {
  std::vector<Outcome> outs;
  std::vector<testdata::ImageSpec> specs;
};

SeriesOut deidentifySeries(const DeidOptions& options, uint32_t seed = 7) {
  SeriesOut s;
  s.specs = testdata::ctSeries(3, seed, 32, 32);
  std::vector<std::string> inputs;
  for (auto& spec : s.specs) {
    spec = testdata::withIdentity(spec);
    inputs.push_back(testdata::makeInstance(spec));
  }
  // Slice 1 references slice 2, at depth 1 and at depth 2.
  std::unique_ptr<DcmFileFormat> first = parseDicom(inputs[0]);
  DcmItem& ref = childOf(*first->getDataset(), DCM_ReferencedImageSequence);
  ref.putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
  ref.putAndInsertString(DCM_ReferencedSOPInstanceUID, s.specs[1].sopInstanceUid.c_str());
  DcmItem& source =
      childOf(childOf(*first->getDataset(), DCM_SourceImageSequence), DCM_ReferencedImageSequence);
  source.putAndInsertString(DCM_ReferencedSOPInstanceUID, s.specs[1].sopInstanceUid.c_str());
  inputs[0] = serializeDicom(*first);
  for (const std::string& input : inputs) s.outs.push_back(deidentify(input, options));
  return s;
}

TEST(Deid, UidsStayTogetherAcrossASeriesAndAcrossRuns) {
  SeriesOut a = deidentifySeries(optionsWith());
  std::set<std::string> sops;
  for (size_t i = 0; i < 3; ++i) {
    DcmDataset& ds = *a.outs[i].file->getDataset();
    EXPECT_EQ(readUid(ds, DCM_StudyInstanceUID), expectedUid(a.specs[i].studyInstanceUid));
    EXPECT_EQ(readUid(ds, DCM_SeriesInstanceUID), expectedUid(a.specs[i].seriesInstanceUid));
    EXPECT_EQ(readUid(ds, DCM_SOPInstanceUID), expectedUid(a.specs[i].sopInstanceUid));
    EXPECT_EQ(readUid(ds, DCM_SOPClassUID), UID_CTImageStorage);  // well-known: kept
    EXPECT_EQ(readUid(*a.outs[i].file->getMetaInfo(), DCM_MediaStorageSOPInstanceUID),
              readUid(ds, DCM_SOPInstanceUID));
    EXPECT_EQ(readUid(*a.outs[i].file->getMetaInfo(), DCM_TransferSyntaxUID),
              UID_LittleEndianExplicitTransferSyntax);
    EXPECT_EQ(a.outs[i].result.uids.at(a.specs[i].sopInstanceUid),
              expectedUid(a.specs[i].sopInstanceUid));
    EXPECT_EQ(trimmedAt(ds, DCM_PatientID), a.outs[0].result.pseudonym);
    sops.insert(readUid(ds, DCM_SOPInstanceUID));
  }
  EXPECT_EQ(sops.size(), 3u);
  for (const DcmTagKey& key :
       {DCM_StudyInstanceUID, DCM_SeriesInstanceUID, DCM_FrameOfReferenceUID}) {
    EXPECT_EQ(readUid(*a.outs[0].file->getDataset(), key),
              readUid(*a.outs[1].file->getDataset(), key));
    EXPECT_EQ(readUid(*a.outs[1].file->getDataset(), key),
              readUid(*a.outs[2].file->getDataset(), key));
  }
  EXPECT_EQ(a.outs[0].result.originalPatientId, a.specs[0].patientId);

  // References inside sequences point at the de-identified slice 2.
  DcmDataset& first = *a.outs[0].file->getDataset();
  const std::string second = readUid(*a.outs[1].file->getDataset(), DCM_SOPInstanceUID);
  EXPECT_EQ(readUid(childOf(first, DCM_ReferencedImageSequence), DCM_ReferencedSOPInstanceUID),
            second);
  EXPECT_EQ(readUid(childOf(first, DCM_ReferencedImageSequence), DCM_ReferencedSOPClassUID),
            UID_CTImageStorage);
  EXPECT_EQ(readUid(childOf(childOf(first, DCM_SourceImageSequence), DCM_ReferencedImageSequence),
                    DCM_ReferencedSOPInstanceUID),
            second);

  // The same key and project again (a re-send): the same bytes.
  SeriesOut again = deidentifySeries(optionsWith());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again.outs[i].part10, a.outs[i].part10) << "slice " << i;

  // Another project, or another key: other UIDs and another pseudonym.
  DeidOptions otherProject = optionsWith();
  otherProject.project = "trial-2";
  DeidOptions otherKey = optionsWith();
  otherKey.key = "another secret key of 32 bytes!!";
  for (const DeidOptions& other : {otherProject, otherKey}) {
    SeriesOut b = deidentifySeries(other);
    DcmDataset& ds = *b.outs[0].file->getDataset();
    EXPECT_NE(readUid(ds, DCM_StudyInstanceUID), readUid(first, DCM_StudyInstanceUID));
    EXPECT_NE(readUid(ds, DCM_SOPInstanceUID), readUid(first, DCM_SOPInstanceUID));
    EXPECT_NE(trimmedAt(ds, DCM_PatientID), trimmedAt(first, DCM_PatientID));
    EXPECT_EQ(readUid(ds, DCM_StudyInstanceUID),
              expectedUid(a.specs[0].studyInstanceUid, other.project, other.key));
  }
}

TEST(Deid, UidsAreValidAndDistinct) {
  KeyedHash hash(kProject, kKey);
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string uid = hash.uid(std::string(kRoot) + "." + std::to_string(i));
    ASSERT_LE(uid.size(), 64u);
    ASSERT_EQ(uid.rfind("2.25.", 0), 0u);
    ASSERT_NE(uid[5], '0');
    for (size_t c = 5; c < uid.size(); ++c) ASSERT_TRUE(uid[c] >= '0' && uid[c] <= '9') << uid;
    seen.insert(uid);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_THROW(KeyedHash(kProject, "short"), ConfigError);
  EXPECT_THROW(KeyedHash("", kKey), ConfigError);
  EXPECT_EQ(KeyedHash("Étude 42 / lung", kKey).pseudonym("x").substr(0, 11), "TUDE42LUNG-");
}

// The two additions to the table: UIDs and person names it does not list.
TEST(Deid, UnlistedUidsAndNamesAreReplacedWellKnownUidsKept) {
  ASSERT_EQ(findProfileRow(0x0008, 0x9123), nullptr);  // Creator-Version UID: not in the table
  ASSERT_EQ(findProfileRow(0x0014, 0x2006), nullptr);  // Evaluator Name: not in the table
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(testdata::ImageSpec{}));
  DcmDataset& ds = *file->getDataset();
  const std::string creatorVersion = std::string(kRoot) + ".6.1";
  const std::string talairach = "1.2.840.10008.1.4.1.1";  // a well-known frame of reference
  ds.putAndInsertString(DCM_CreatorVersionUID, creatorVersion.c_str());
  ds.putAndInsertString(DCM_FrameOfReferenceUID, talairach.c_str());
  ds.putAndInsertString(DcmTagKey(0x0014, 0x2006), "Eval^Eve");
  DcmItem& nested = childOf(childOf(ds, DCM_ReferencedSeriesSequence), DCM_ReferencedSOPSequence);
  nested.putAndInsertString(DCM_CreatorVersionUID, creatorVersion.c_str());
  nested.putAndInsertString(DCM_ReferencedSOPClassUID,
                            "1.3.12.2.1107.5.9.1");  // a vendor's SOP class
  Outcome out = deidentify(serializeDicom(*file), optionsWith());
  DcmDataset& result = *out.file->getDataset();
  EXPECT_EQ(readUid(result, DCM_CreatorVersionUID), expectedUid(creatorVersion));
  EXPECT_EQ(readUid(result, DCM_FrameOfReferenceUID), talairach);
  EXPECT_EQ(trimmedAt(result, DcmTagKey(0x0014, 0x2006)), "");
  DcmItem& nestedOut =
      childOf(childOf(result, DCM_ReferencedSeriesSequence), DCM_ReferencedSOPSequence);
  EXPECT_EQ(readUid(nestedOut, DCM_CreatorVersionUID), expectedUid(creatorVersion));
  EXPECT_EQ(readUid(nestedOut, DCM_ReferencedSOPClassUID), "1.3.12.2.1107.5.9.1");
  EXPECT_EQ(out.result.uids.at(creatorVersion), expectedUid(creatorVersion));
  EXPECT_FALSE(out.result.uids.count(talairach));
}

TEST(Deid, RetainUidsKeepsEveryUid) {
  SeriesOut a = deidentifySeries(optionsWith({ProfileOption::RetainUids}));
  DcmDataset& ds = *a.outs[0].file->getDataset();
  EXPECT_EQ(readUid(ds, DCM_SOPInstanceUID), a.specs[0].sopInstanceUid);
  EXPECT_EQ(readUid(ds, DCM_StudyInstanceUID), a.specs[0].studyInstanceUid);
  EXPECT_EQ(readUid(childOf(ds, DCM_ReferencedImageSequence), DCM_ReferencedSOPInstanceUID),
            a.specs[1].sopInstanceUid);
  EXPECT_TRUE(a.outs[0].result.uids.empty());
}

// ---- Dates, cleaning, marking ---------------------------------------------

TEST(Deid, ModifiedDatesMoveEveryDateOfAPatientByTheSameDays) {
  SeriesOut a = deidentifySeries(optionsWith({ProfileOption::RetainLongitudinalModifiedDates}));
  const int shift = a.outs[0].result.dateShiftDays;
  EXPECT_GE(shift, 1);
  EXPECT_LE(shift, 3650);
  for (const Outcome& out : a.outs) {
    EXPECT_EQ(out.result.dateShiftDays, shift);
    DcmDataset& ds = *out.file->getDataset();
    EXPECT_EQ(trimmedAt(ds, DCM_StudyDate), *shiftDate("20240115", shift));
    EXPECT_EQ(trimmedAt(ds, DCM_ContentDate), *shiftDate("20240115", shift));
    EXPECT_EQ(trimmedAt(ds, DCM_StudyTime), "101500");   // whole days: times stay
    EXPECT_EQ(trimmedAt(ds, DCM_PatientBirthDate), "");  // Z, whatever the options
    EXPECT_EQ(trimmedAt(ds, DCM_LongitudinalTemporalInformationModified), "MODIFIED");
  }
  EXPECT_EQ(*shiftDate("20240301", 1), "20240229");
  EXPECT_EQ(*shiftDate("20010101", 366), "20000101");  // across 2000-02-29
  EXPECT_EQ(*shiftDateTime("20240101093000.5+0100", 1), "20231231093000.5+0100");
  EXPECT_EQ(shiftDate("2024", 1), std::nullopt);
  EXPECT_EQ(shiftDate("20240230", 1), std::nullopt);
}

TEST(Deid, CleanDescriptorsRemovesTheInstancesOwnIdentifiers) {
  testdata::ImageSpec spec;
  spec.patientName = "Doe^Jane";
  spec.patientId = "MRN123456";
  spec.studyDescription = "CT thorax for DOE, MRN123456; Doette unaffected";
  std::string input = testdata::makeInstance(spec);
  Outcome out = deidentify(input, optionsWith({ProfileOption::CleanDescriptors}));
  EXPECT_EQ(trimmedAt(*out.file->getDataset(), DCM_StudyDescription),
            "CT thorax for ***, *********; Doette unaffected");
  Outcome basic = deidentify(input, optionsWith());
  EXPECT_FALSE(basic.file->getDataset()->tagExists(DCM_StudyDescription));  // X without the option
}

TEST(Deid, MarksTheInstance) {
  testdata::ImageSpec spec;
  const ProfileOptions options = {ProfileOption::RetainDeviceIdentity,
                                  ProfileOption::RetainLongitudinalFullDates};
  Outcome out = deidentify(testdata::makeInstance(spec), optionsWith(options));
  DcmDataset& ds = *out.file->getDataset();
  EXPECT_EQ(trimmedAt(ds, DCM_PatientIdentityRemoved), "YES");
  const std::string method = trimmedAt(ds, DCM_DeidentificationMethod);
  EXPECT_NE(method.find("Basic Profile"), std::string::npos) << method;
  EXPECT_NE(method.find("Retain Device Identity Option"), std::string::npos) << method;
  EXPECT_NE(method.find("project trial-1"), std::string::npos) << method;
  std::set<std::string> codes;
  DcmSequenceOfItems* sequence = nullptr;
  ASSERT_TRUE(ds.findAndGetSequence(DCM_DeidentificationMethodCodeSequence, sequence).good());
  for (unsigned long i = 0; i < sequence->card(); ++i) {
    EXPECT_EQ(trimmedAt(*sequence->getItem(i), DCM_CodingSchemeDesignator), "DCM");
    EXPECT_FALSE(trimmedAt(*sequence->getItem(i), DCM_CodeMeaning).empty());
    codes.insert(trimmedAt(*sequence->getItem(i), DCM_CodeValue));
  }
  EXPECT_EQ(codes, (std::set<std::string>{"113100", "113109", "113106", "113111"}));
  EXPECT_EQ(trimmedAt(ds, DCM_LongitudinalTemporalInformationModified), "UNMODIFIED");
  EXPECT_EQ(trimmedAt(ds, DCM_StudyDate), "20240115");

  // Once more over its own output: no code twice.
  Outcome twice = deidentify(out.part10, optionsWith(options));
  ASSERT_TRUE(twice.file->getDataset()
                  ->findAndGetSequence(DCM_DeidentificationMethodCodeSequence, sequence)
                  .good());
  EXPECT_EQ(sequence->card(), 4u);
  Outcome basic = deidentify(testdata::makeInstance(spec), optionsWith());
  EXPECT_EQ(trimmedAt(*basic.file->getDataset(), DCM_LongitudinalTemporalInformationModified),
            "REMOVED");
}

TEST(Deid, MetaHeaderFollows) {
  testdata::ImageSpec spec = testdata::withIdentity(testdata::ImageSpec{});
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(spec));
  file->getMetaInfo()->putAndInsertString(DCM_SourceApplicationEntityTitle, "HOSPITAL_CT1");
  Outcome out = deidentify(serializeDicom(*file), optionsWith());
  DcmMetaInfo& meta = *out.file->getMetaInfo();
  EXPECT_EQ(readUid(meta, DCM_MediaStorageSOPInstanceUID), expectedUid(spec.sopInstanceUid));
  EXPECT_EQ(readUid(meta, DCM_MediaStorageSOPClassUID), UID_CTImageStorage);
  EXPECT_FALSE(meta.tagExists(DCM_SourceApplicationEntityTitle));
}

// ---- Burned-in pixels -----------------------------------------------------

std::string withBurnedIn(testdata::ImageSpec spec, const char* value) {
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(spec));
  if (value)
    file->getDataset()->putAndInsertString(DCM_BurnedInAnnotation, value);
  else
    delete file->getDataset()->remove(DCM_BurnedInAnnotation);
  return serializeDicom(*file);
}

TEST(Deid, RefusesPixelsThatMayShowText) {
  testdata::ImageSpec us;
  us.modality = "US";
  us.bitsAllocated = us.bitsStored = 8;
  testdata::ImageSpec sc;
  sc.modality = "OT";
  sc.samplesPerPixel = 3;
  sc.photometric = "RGB";
  sc.bitsAllocated = sc.bitsStored = 8;
  testdata::ImageSpec ct;

  const Deidentifier refusing(optionsWith());
  for (const auto& [input, why] : std::vector<std::pair<std::string, std::string>>{
           {withBurnedIn(us, nullptr), "no BurnedInAnnotation"},
           {withBurnedIn(sc, nullptr), "no BurnedInAnnotation"},
           {withBurnedIn(ct, "YES"), "BurnedInAnnotation is YES"},
           {withBurnedIn(ct, "yes"), "BurnedInAnnotation is YES"},
       }) {
    try {
      deidentifyPart10(input, refusing);
      ADD_FAILURE() << "not refused: " << why;
    } catch (const DeidentificationRefused& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("does not remove text from pixels"), std::string::npos)
          << e.what();
    }
  }
  // Nothing was changed by a refusal.
  std::unique_ptr<DcmFileFormat> file = parseDicom(withBurnedIn(us, nullptr));
  const std::string before = serializeDicom(*file);
  EXPECT_THROW(refusing.apply(*file), DeidentificationRefused);
  EXPECT_EQ(serializeDicom(*file), before);

  // Allowed: BurnedInAnnotation NO, a modality that rarely burns in, or the option.
  EXPECT_NO_THROW(deidentifyPart10(withBurnedIn(us, "NO"), refusing));
  EXPECT_NO_THROW(deidentifyPart10(withBurnedIn(ct, nullptr), refusing));
  DeidOptions allowing = optionsWith();
  allowing.refuseBurnedIn = false;
  EXPECT_NO_THROW(deidentifyPart10(withBurnedIn(us, nullptr), Deidentifier(allowing)));
  EXPECT_NO_THROW(deidentifyPart10(withBurnedIn(ct, "YES"), Deidentifier(allowing)));
  // A structured report has no pixels to look at.
  testdata::ImageSpec sr;
  sr.modality = "SR";
  sr.noPixelData = true;
  EXPECT_NO_THROW(deidentifyPart10(testdata::makeInstance(sr), refusing));
}

TEST(Deid, PixelsStayBitExact) {
  for (testdata::ImageSpec spec : testdata::standardSuite()) {
    if (spec.noPixelData) continue;
    SCOPED_TRACE(spec.name);
    const std::string input = withBurnedIn(spec, "NO");
    Outcome out = deidentify(input, optionsWith());
    std::unique_ptr<DcmFileFormat> original = parseDicom(input);
    EXPECT_EQ(testdata::nativePixelBytes(*out.file->getDataset()),
              testdata::nativePixelBytes(*original->getDataset()));
    EXPECT_FALSE(testdata::nativePixelBytes(*original->getDataset()).empty());
  }
}

// The pixel data as stored: native bytes, or every fragment of encapsulated
// pixel data one after the other (Basic Offset Table included).
std::vector<uint8_t> storedPixels(DcmDataset& dataset) {
  std::vector<uint8_t> native = testdata::nativePixelBytes(dataset);
  DcmElement* element = nullptr;
  if (!native.empty() || dataset.findAndGetElement(DCM_PixelData, element).bad()) return native;
  auto* pixels = static_cast<DcmPixelData*>(element);
  E_TransferSyntax xfer = EXS_Unknown;
  const DcmRepresentationParameter* parameter = nullptr;
  pixels->getCurrentRepresentationKey(xfer, parameter);
  DcmPixelSequence* fragments = nullptr;
  if (pixels->getEncapsulatedRepresentation(xfer, parameter, fragments).bad() || !fragments)
    return {};
  std::vector<uint8_t> out;
  for (unsigned long i = 0; i < fragments->card(); ++i) {
    DcmPixelItem* fragment = nullptr;
    Uint8* bytes = nullptr;
    if (fragments->getItem(fragment, i).good() && fragment->getUint8Array(bytes).good() && bytes)
      out.insert(out.end(), bytes, bytes + fragment->getLength());
  }
  return out;
}

// The generator's hostile files (padded and NUL-padded values, UIDs encoded
// as UN, private sequences of undefined length, broken pixel data): each is
// de-identified with its pixel data untouched, or, unreadable, refused with
// a RouterError; none crashes.
TEST(Deid, HostileFilesAreDeidentifiedOrRefused) {
  DeidOptions options = optionsWith();
  options.refuseBurnedIn = false;
  const Deidentifier deidentifier(options);
  for (const testdata::HostileCase& hostile : testdata::hostileSuite()) {
    SCOPED_TRACE(hostile.name);
    if (hostile.name == "truncated-file") {
      EXPECT_THROW(deidentifyPart10(hostile.bytes, deidentifier), RouterError);
      continue;
    }
    DeidentifiedFile out = deidentifyPart10(hostile.bytes, deidentifier);
    std::unique_ptr<DcmFileFormat> in = parseDicom(hostile.bytes);
    std::unique_ptr<DcmFileFormat> result = parseDicom(out.part10);
    EXPECT_EQ(readUid(*result->getDataset(), DCM_SOPInstanceUID),
              expectedUid(hostile.sopInstanceUid));
    EXPECT_EQ(readUid(*result->getMetaInfo(), DCM_TransferSyntaxUID), hostile.transferSyntax);
    EXPECT_EQ(storedPixels(*result->getDataset()), storedPixels(*in->getDataset()));
    EXPECT_FALSE(storedPixels(*in->getDataset()).empty());
    std::vector<std::string> forbidden;
    collectForbiddenTags(*result->getDataset(), "", forbidden);
    EXPECT_TRUE(forbidden.empty()) << forbidden.front();
  }
}

TEST(Deid, RefusesContradictoryOptions) {
  EXPECT_THROW(Deidentifier(optionsWith({ProfileOption::RetainLongitudinalFullDates,
                                         ProfileOption::RetainLongitudinalModifiedDates})),
               ConfigError);
  DeidOptions even = optionsWith();
  even.safePrivateTags = {{0x0008, "X", 0x01}};
  EXPECT_THROW(Deidentifier{even}, ConfigError);
}

}  // namespace
}  // namespace router::deid
