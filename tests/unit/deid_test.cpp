// De-identification (plugins/core/deid): a generated CT carrying every
// attribute of the profile table, at the top level and in items at depth 1
// and 2, with private and overlay/curve groups, de-identified under several
// option sets and checked element by element against the table; UIDs and
// pseudonyms recomputed here with OpenSSL (not with the code under test);
// consistency across a series and across runs; markings; the burned-in
// refusal; pixels bit-exact; and dciodvfy (dicom3tools) finding no new error.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "plugins/core/deid/DateShift.h"
#include "plugins/core/deid/Deidentifier.h"
#include "plugins/core/deid/KeyedHash.h"
#include "plugins/core/deid/Marking.h"
#include "plugins/core/deid/ProfileTable.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"
#include "tests/generator/TestData.h"
#include "tests/generator/TestSupport.h"

namespace router::deid {
namespace {

const std::string kKey = "0123456789abcdef-test-key-32-byt";
const std::string kProject = "trial-1";
constexpr const char* kRoot = "1.2.826.0.1.3680043.10.1234.99";
constexpr const char* kPatientId = "PID-0042";

// ---- The replacements, recomputed independently of KeyedHash ---------------

std::vector<unsigned char> hmac(const std::string& key, const std::string& message) {
  std::vector<unsigned char> out(32);
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length);
  return out;
}

std::string message(const char* kind, const std::string& project, const std::string& value) {
  return std::string(kind) + '\0' + project + '\0' + value;
}

std::string expectedUid(const std::string& uid, const std::string& project = kProject,
                        const std::string& key = kKey) {
  std::vector<unsigned char> h = hmac(key, message("uid", project, uid));
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  __extension__ typedef unsigned __int128 u128;
  u128 n = 0;
  for (int i = 0; i < 16; ++i) n = (n << 8) | h[i];
  std::string digits;
  while (n) {
    digits.insert(digits.begin(), char('0' + int(n % 10)));
    n /= 10;
  }
  return "2.25." + digits;
}

std::string expectedPseudonym(const std::string& patientId, const std::string& prefix = "TRIAL1",
                              const std::string& project = kProject) {
  std::vector<unsigned char> h = hmac(kKey, message("patient", project, patientId));
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string bits;
  for (int i = 0; i < 10; ++i)
    for (int b = 7; b >= 0; --b) bits.push_back((h[i] >> b) & 1 ? '1' : '0');
  std::string out = prefix + "-";
  for (size_t i = 0; i < bits.size(); i += 5)
    out.push_back(alphabet[std::stoi(bits.substr(i, 5), nullptr, 2)]);
  return out;
}

// ---- Building the instance ------------------------------------------------

DeidOptions optionsWith(ProfileOptions options = {}) {
  DeidOptions o;
  o.options = std::move(options);
  o.project = kProject;
  o.key = kKey;
  o.safePrivateTags = {{0x0009, "ROUTER SAFE", 0x01}};
  return o;
}

// The VRs of the table's attributes that DCMTK 3.6.7's dictionary does not
// know yet (added to the standard after 2022), from PS3.6.
DcmEVR vrOf(const ProfileRow& row) {
  static const std::map<std::pair<Uint16, Uint16>, DcmEVR> kNewer = {
      {{0x0012, 0x0022}, EVR_LO}, {{0x0012, 0x0023}, EVR_SQ}, {{0x0012, 0x0032}, EVR_LO},
      {{0x0012, 0x0041}, EVR_LO}, {{0x0012, 0x0043}, EVR_LO}, {{0x0012, 0x0055}, EVR_LO},
      {{0x0012, 0x0073}, EVR_LO}, {{0x0018, 0x1204}, EVR_DA}, {{0x0018, 0x1205}, EVR_DA},
      {{0x003A, 0x0329}, EVR_LO}, {{0x003A, 0x032B}, EVR_LO}, {{0x0072, 0x006D}, EVR_UN},
      {{0x3002, 0x0121}, EVR_LO}, {{0x3002, 0x0123}, EVR_LT}, {{0x3006, 0x002D}, EVR_DT},
      {{0x3006, 0x002E}, EVR_DT}, {{0x3006, 0x004D}, EVR_SQ}, {{0x3006, 0x004E}, EVR_SQ},
  };
  auto newer = kNewer.find({row.group, row.element});
  if (newer != kNewer.end()) return newer->second;
  return DcmTag(row.group, row.element).getEVR();
}

bool isRowInDataset(const ProfileRow& row) {
  // Command (0000) and file meta (0002) attributes never sit in a dataset;
  // PatientID and PatientName get the pseudonym (checked on their own).
  if (row.group == 0x0000 || row.group == 0x0002) return false;
  if (row.group == 0x0010 && (row.element == 0x0010 || row.element == 0x0020)) return false;
  return true;
}

std::string hex(const ProfileRow& row) {
  char out[16];
  std::snprintf(out, sizeof out, "%04X%04X", row.group, row.element);
  return out;
}

std::string label(const ProfileRow& row, int depth) {
  return "(" + hex(row).substr(0, 4) + "," + hex(row).substr(4) + ") " + row.name + " at depth " +
         std::to_string(depth);
}

// A value of the row's VR, different for every row, so that a value found in
// the output can only have come from its own element.
std::string valueFor(const ProfileRow& row, size_t index, DcmEVR vr) {
  const std::string h = hex(row);
  char text[32];
  switch (vr) {
    case EVR_AE:
      return "A" + h;
    case EVR_AS:
      std::snprintf(text, sizeof text, "0%02zuY", index % 100);
      return text;
    case EVR_CS:
      return "V" + h;
    case EVR_DA:
      std::snprintf(text, sizeof text, "%04zu%02zu%02zu", 1990 + index % 30, 1 + index / 30 % 12,
                    1 + index / 360);
      return text;
    case EVR_DT:
      std::snprintf(text, sizeof text, "%04zu%02zu%02zu101500", 1990 + index % 30,
                    1 + index / 30 % 12, 1 + index / 360);
      return text;
    case EVR_TM:
      std::snprintf(text, sizeof text, "10%02zu%02zu", index / 60, index % 60);
      return text;
    case EVR_DS:
      return "1." + std::to_string(index);
    case EVR_IS:
      return std::to_string(1000 + index);
    case EVR_SH:
      return "v" + h;
    case EVR_PN:
      return "V" + h + "^Given";
    case EVR_UI:
      return std::string(kRoot) + ".9." + std::to_string(index);
    case EVR_UR:
      return "http://example.org/" + h;
    case EVR_US:
    case EVR_SS:
    case EVR_UL:
    case EVR_SL:
      return std::to_string(index + 1);
    case EVR_FL:
    case EVR_FD:
      return std::to_string(index) + ".5";
    default:
      return "v" + h + " text";  // LO LT ST UT UC
  }
}

std::string childUidFor(size_t index) {
  return std::string(kRoot) + ".8." + std::to_string(index);
}

void insertRow(DcmItem& item, const ProfileRow& row, size_t index) {
  const DcmEVR vr = vrOf(row);
  const DcmTag tag(row.group, row.element, DcmVR(vr));
  if (vr == EVR_SQ) {
    auto* sequence = new DcmSequenceOfItems(tag);
    auto* child = new DcmItem;
    child->putAndInsertString(DCM_CodeValue, ("C" + hex(row)).c_str());
    child->putAndInsertString(DCM_ReferencedSOPInstanceUID, childUidFor(index).c_str());
    sequence->insert(child);
    ASSERT_TRUE(item.insert(sequence, /*replaceOld=*/true).good()) << row.name;
    return;
  }
  if (vr == EVR_OB || vr == EVR_UN) {
    const Uint8 bytes[4] = {1, 2, 3, 4};
    auto* element = new DcmOtherByteOtherWord(tag);  // putAndInsertUint8Array() refuses UN
    ASSERT_TRUE(element->putUint8Array(bytes, 4).good()) << row.name;
    ASSERT_TRUE(item.insert(element, /*replaceOld=*/true).good()) << row.name;
    return;
  }
  if (vr == EVR_OW) {
    const Uint16 words[2] = {0x0102, 0x0304};
    ASSERT_TRUE(item.putAndInsertUint16Array(tag, words, 2).good()) << row.name;
    return;
  }
  ASSERT_TRUE(item.putAndInsertString(tag, valueFor(row, index, vr).c_str()).good()) << row.name;
}

void insertEveryRow(DcmItem& item) {
  size_t count = 0;
  const ProfileRow* rows = profileRows(count);
  for (size_t i = 0; i < count; ++i)
    if (isRowInDataset(rows[i])) insertRow(item, rows[i], i);
}

// Private creators and elements (safe-listed and not), a private sequence,
// one private element without a creator, a curve and an overlay.
void insertPrivateAndRepeating(DcmItem& item, bool withGroups) {
  item.putAndInsertString(DcmTag(0x0009, 0x0010, DcmVR(EVR_LO)), "ROUTER SAFE");
  item.putAndInsertString(DcmTag(0x0009, 0x1001, DcmVR(EVR_LO)), "private-safe");
  item.putAndInsertString(DcmTag(0x0009, 0x1002, DcmVR(EVR_LO)), "private-unsafe Doe");
  item.putAndInsertString(DcmTag(0x0011, 0x0010, DcmVR(EVR_LO)), "VENDOR X");
  item.putAndInsertString(DcmTag(0x0011, 0x1001, DcmVR(EVR_LO)), "private-vendor");
  item.putAndInsertString(DcmTag(0x0011, 0x1002, DcmVR(EVR_UI)),
                          (std::string(kRoot) + ".7.1").c_str());
  auto* sequence = new DcmSequenceOfItems(DcmTag(0x0011, 0x1003, DcmVR(EVR_SQ)));
  auto* child = new DcmItem;
  child->putAndInsertString(DCM_PatientName, "Hidden^Name");
  sequence->insert(child);
  item.insert(sequence, true);
  item.putAndInsertString(DcmTag(0x0013, 0x1001, DcmVR(EVR_LO)), "no creator");
  if (!withGroups) return;
  const Uint16 curve[4] = {1, 2, 3, 4};
  item.putAndInsertString(DcmTag(0x5000, 0x0005, DcmVR(EVR_US)), "2");
  item.putAndInsertUint16Array(DcmTag(0x5000, 0x3000, DcmVR(EVR_OW)), curve, 4);
  item.putAndInsertString(DcmTag(0x6000, 0x0010, DcmVR(EVR_US)), "64");
  item.putAndInsertString(DcmTag(0x6000, 0x0011, DcmVR(EVR_US)), "64");
  item.putAndInsertString(DcmTag(0x6000, 0x0040, DcmVR(EVR_CS)), "G");
  item.putAndInsertString(DcmTag(0x6000, 0x0050, DcmVR(EVR_SS)), "1\\1");
  item.putAndInsertString(DcmTag(0x6000, 0x0100, DcmVR(EVR_US)), "1");
  item.putAndInsertString(DcmTag(0x6000, 0x0102, DcmVR(EVR_US)), "0");
  std::vector<Uint16> overlay(64 * 64 / 16, 0xffff);
  item.putAndInsertUint16Array(DcmTag(0x6000, 0x3000, DcmVR(EVR_OW)), overlay.data(),
                               overlay.size());
  item.putAndInsertString(DcmTag(0x6000, 0x4000, DcmVR(EVR_LT)), "overlay by Dr Who");
}

DcmItem& childOf(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  EXPECT_TRUE(parent.findOrCreateSequenceItem(sequence, item, 0).good());
  return *item;
}

// The CT of the generator, plus every row at depth 0, 1 (in Referenced Series
// Sequence) and 2 (in its Referenced SOP Sequence): neither sequence is in
// the table, so their items get no treatment of their own.
std::string instanceWithEveryRow(testdata::ImageSpec spec = {}) {
  spec.modality = "CT";
  spec.signedPixels = true;
  spec.patientName = "Doe^Jane";
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(spec));
  DcmDataset& top = *file->getDataset();
  DcmItem& depth1 = childOf(top, DCM_ReferencedSeriesSequence);
  DcmItem& depth2 = childOf(depth1, DCM_ReferencedSOPSequence);
  for (DcmItem* item : std::vector<DcmItem*>{&top, &depth1, &depth2}) {
    insertEveryRow(*item);
    insertPrivateAndRepeating(*item, item == &top);
    item->putAndInsertString(DCM_PatientID, kPatientId);
    item->putAndInsertString(DCM_PatientName, "Doe^Jane");
  }
  return serializeDicom(*file);
}

// ---- Reading the output ---------------------------------------------------

std::string stringAt(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  item.findAndGetOFStringArray(key, value, false);
  return std::string(value.c_str(), value.length());
}

std::string trimmedAt(DcmItem& item, const DcmTagKey& key) {
  return trimText(stringAt(item, key), false);
}

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

struct Outcome {
  std::string part10;
  DeidResult result;
  std::unique_ptr<DcmFileFormat> file;
};

Outcome deidentify(const std::string& input, const DeidOptions& options) {
  Outcome out;
  DeidentifiedFile done = deidentifyPart10(input, Deidentifier(options));
  out.part10 = done.part10;
  out.result = done.result;
  out.file = parseDicom(out.part10);
  return out;
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

const ProfileOptions kAllFullDates = {ProfileOption::RetainUids,
                                      ProfileOption::RetainDeviceIdentity,
                                      ProfileOption::RetainInstitutionIdentity,
                                      ProfileOption::RetainPatientCharacteristics,
                                      ProfileOption::RetainLongitudinalFullDates,
                                      ProfileOption::CleanDescriptors,
                                      ProfileOption::CleanStructuredContent,
                                      ProfileOption::CleanGraphics};

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

TEST(Deid, RefusesContradictoryOptions) {
  EXPECT_THROW(Deidentifier(optionsWith({ProfileOption::RetainLongitudinalFullDates,
                                         ProfileOption::RetainLongitudinalModifiedDates})),
               ConfigError);
  DeidOptions even = optionsWith();
  even.safePrivateTags = {{0x0008, "X", 0x01}};
  EXPECT_THROW(Deidentifier{even}, ConfigError);
}

// ---- dciodvfy -------------------------------------------------------------

// dciodvfy's "Error" lines, made comparable between input and output. The
// de-identification changes values, so a line that quotes one would differ
// while reporting the same problem: quoted values (= <...>, "value <...>",
// "term <...>"), characters and lengths quoted after "= " and item indices
// ([n]) are blanked. Element names and modules stay: an error about an
// element or module that the input did not have is a new error.
std::set<std::string> errorLines(const std::string& output) {
  std::set<std::string> errors;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = output.substr(start, end - start);
    start = end + 1;
    if (line.rfind("Error", 0) != 0) continue;
    std::string normal;
    for (size_t i = 0; i < line.size(); ++i) {
      auto blankUntil = [&](char close) {
        const size_t stop = line.find(close, i + 1);
        i = stop == std::string::npos ? line.size() : stop;
      };
      if (line.compare(i, 3, "= <") == 0 || line.compare(i, 6, "value ") == 0 ||
          line.compare(i, 5, "term ") == 0) {
        const size_t open = line.find('<', i);
        if (open != std::string::npos && open <= i + 6) {
          normal += line.substr(i, open - i) + "<?>";
          i = open;
          blankUntil('>');
          continue;
        }
      }
      if (line[i] == '[') {
        normal += "[?]";
        blankUntil(']');
        continue;
      }
      if (line.compare(i, 2, "= ") == 0 && i + 2 < line.size() && line[i + 2] != '<') {
        normal += "= ?";
        i += 2;
        while (i + 1 < line.size() && line[i + 1] != ',' && line[i + 1] != ' ') ++i;
        continue;
      }
      normal.push_back(line[i]);
    }
    errors.insert(normal);
  }
  return errors;
}

// An instance of the kind a modality sends: identifying attributes in the
// modules where they belong, references, private data.
std::string realistic(testdata::ImageSpec spec) {
  spec = testdata::withIdentity(spec);
  std::unique_ptr<DcmFileFormat> file = parseDicom(testdata::makeInstance(spec));
  DcmDataset& ds = *file->getDataset();
  ds.putAndInsertString(DCM_InstitutionAddress, "1 Hospital Road");
  ds.putAndInsertString(DCM_OperatorsName, "Tech^Tom");
  ds.putAndInsertString(DCM_PerformingPhysicianName, "Rad^Ray");
  ds.putAndInsertString(DCM_SeriesDate, "20240115");
  ds.putAndInsertString(DCM_SeriesTime, "101500");
  ds.putAndInsertString(DCM_AcquisitionDate, "20240115");
  ds.putAndInsertString(DCM_AcquisitionTime, "101600");
  ds.putAndInsertString(DCM_InstanceCreationDate, "20240115");
  ds.putAndInsertString(DCM_InstanceCreationTime, "101700");
  ds.putAndInsertString(DCM_ProtocolName, "Thorax for Doe");
  ds.putAndInsertString(DCM_PatientAge, "054Y");
  ds.putAndInsertString(DCM_PatientWeight, "70");
  ds.putAndInsertString(DCM_RETIRED_OtherPatientIDs, "OLD-1");
  ds.putAndInsertString(DCM_InstanceCreatorUID, "1.2.826.0.1.3680043.10.1234.5.5");
  DcmItem& study = childOf(ds, DCM_ReferencedStudySequence);
  study.putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");
  study.putAndInsertString(DCM_ReferencedSOPInstanceUID, spec.studyInstanceUid.c_str());
  DcmItem& image = childOf(ds, DCM_ReferencedImageSequence);
  image.putAndInsertString(DCM_ReferencedSOPClassUID, spec.sopClassUid.empty()
                                                          ? UID_CTImageStorage
                                                          : spec.sopClassUid.c_str());
  image.putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.826.0.1.3680043.10.1234.5.6");
  DcmItem& institution = childOf(ds, DCM_InstitutionCodeSequence);
  institution.putAndInsertString(DCM_CodeValue, "H123");
  institution.putAndInsertString(DCM_CodingSchemeDesignator, "LOCAL");
  institution.putAndInsertString(DCM_CodeMeaning, "Hospital 123");
  insertPrivateAndRepeating(ds, /*withGroups=*/false);
  return serializeDicom(*file);
}

TEST(DeidValidator, DciodvfyFindsNoNewErrors) {
  if (testdata::run("command -v dciodvfy").exitCode != 0)
    GTEST_SKIP() << "dciodvfy (dicom3tools) is not installed";
  testdata::ImageSpec ct;
  ct.name = "ct";
  ct.signedPixels = true;
  testdata::ImageSpec sc;
  sc.name = "sc";
  sc.modality = "OT";
  sc.samplesPerPixel = 3;
  sc.photometric = "RGB";
  sc.bitsAllocated = sc.bitsStored = 8;
  testdata::TempDir dir("router-deid-test");
  for (const ProfileOptions& options :
       {ProfileOptions{}, kAllFullDates,
        ProfileOptions{ProfileOption::RetainLongitudinalModifiedDates}}) {
    for (const testdata::ImageSpec& spec : {ct, sc}) {
      SCOPED_TRACE(spec.name + " with " + std::to_string(options.size()) + " options");
      const std::string input = realistic(spec);
      const std::string output = deidentifyPart10(input, Deidentifier(optionsWith(options))).part10;
      std::ofstream(dir / "in.dcm", std::ios::binary) << input;
      std::ofstream(dir / "out.dcm", std::ios::binary) << output;
      testdata::RunResult in = testdata::run("dciodvfy " + (dir / "in.dcm").string());
      testdata::RunResult out = testdata::run("dciodvfy " + (dir / "out.dcm").string());
      ASSERT_NE(in.output.find("Image"), std::string::npos)
          << "dciodvfy did not recognise the input:\n"
          << in.output;
      const std::set<std::string> before = errorLines(in.output);
      for (const std::string& error : errorLines(out.output))
        EXPECT_TRUE(before.count(error)) << "new error: " << error << "\ninput:\n"
                                         << in.output << "\noutput:\n"
                                         << out.output;
    }
  }
}

}  // namespace
}  // namespace router::deid
