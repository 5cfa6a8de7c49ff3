// Shared by deid_test.cpp and deid_validator_test.cpp: the keyed
// replacements recomputed with OpenSSL (independently of KeyedHash), the
// instance carrying every row of the profile table at depth 0, 1 and 2, and
// small readers of the output.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrobow.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/core/deid/Deidentifier.h"
#include "plugins/core/deid/ProfileTable.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"
#include "tests/generator/TestData.h"

namespace router::deid::test {

inline const std::string kKey = "0123456789abcdef-test-key-32-byt";
inline const std::string kProject = "trial-1";
inline constexpr const char* kRoot = "1.2.826.0.1.3680043.10.1234.99";
inline constexpr const char* kPatientId = "PID-0042";

// ---- The replacements, recomputed independently of KeyedHash ---------------

inline std::vector<unsigned char> hmac(const std::string& key, const std::string& message) {
  std::vector<unsigned char> out(32);
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length);
  return out;
}

inline std::string message(const char* kind, const std::string& project, const std::string& value) {
  return std::string(kind) + '\0' + project + '\0' + value;
}

inline std::string expectedUid(const std::string& uid, const std::string& project = kProject,
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

inline std::string expectedPseudonym(const std::string& patientId,
                                     const std::string& prefix = "TRIAL1",
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

inline DeidOptions optionsWith(ProfileOptions options = {}) {
  DeidOptions o;
  o.options = std::move(options);
  o.project = kProject;
  o.key = kKey;
  o.safePrivateTags = {{0x0009, "ROUTER SAFE", 0x01}};
  return o;
}

// The VRs of the table's attributes that DCMTK 3.6.7's dictionary does not
// know yet (added to the standard after 2022), from PS3.6.
inline DcmEVR vrOf(const ProfileRow& row) {
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

inline bool isRowInDataset(const ProfileRow& row) {
  // Command (0000) and file meta (0002) attributes never sit in a dataset;
  // PatientID and PatientName get the pseudonym (checked on their own).
  if (row.group == 0x0000 || row.group == 0x0002) return false;
  if (row.group == 0x0010 && (row.element == 0x0010 || row.element == 0x0020)) return false;
  return true;
}

inline std::string hex(const ProfileRow& row) {
  char out[16];
  std::snprintf(out, sizeof out, "%04X%04X", row.group, row.element);
  return out;
}

inline std::string label(const ProfileRow& row, int depth) {
  return "(" + hex(row).substr(0, 4) + "," + hex(row).substr(4) + ") " + row.name + " at depth " +
         std::to_string(depth);
}

// A value of the row's VR, different for every row, so that a value found in
// the output can only have come from its own element.
inline std::string valueFor(const ProfileRow& row, size_t index, DcmEVR vr) {
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

inline std::string childUidFor(size_t index) {
  return std::string(kRoot) + ".8." + std::to_string(index);
}

inline void insertRow(DcmItem& item, const ProfileRow& row, size_t index) {
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

inline void insertEveryRow(DcmItem& item) {
  size_t count = 0;
  const ProfileRow* rows = profileRows(count);
  for (size_t i = 0; i < count; ++i)
    if (isRowInDataset(rows[i])) insertRow(item, rows[i], i);
}

// Private creators and elements (safe-listed and not), a private sequence,
// one private element without a creator, a curve and an overlay.
inline void insertPrivateAndRepeating(DcmItem& item, bool withGroups) {
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

inline DcmItem& childOf(DcmItem& parent, const DcmTagKey& sequence) {
  DcmItem* item = nullptr;
  EXPECT_TRUE(parent.findOrCreateSequenceItem(sequence, item, 0).good());
  return *item;
}

// The CT of the generator, plus every row at depth 0, 1 (in Referenced Series
// Sequence) and 2 (in its Referenced SOP Sequence): neither sequence is in
// the table, so their items get no treatment of their own.
inline std::string instanceWithEveryRow(testdata::ImageSpec spec = {}) {
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

inline std::string stringAt(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  item.findAndGetOFStringArray(key, value, false);
  return std::string(value.c_str(), value.length());
}

inline std::string trimmedAt(DcmItem& item, const DcmTagKey& key) {
  return trimText(stringAt(item, key), false);
}

struct Outcome {
  std::string part10;
  DeidResult result;
  std::unique_ptr<DcmFileFormat> file;
};

inline Outcome deidentify(const std::string& input, const DeidOptions& options) {
  Outcome out;
  DeidentifiedFile done = deidentifyPart10(input, Deidentifier(options));
  out.part10 = done.part10;
  out.result = done.result;
  out.file = parseDicom(out.part10);
  return out;
}

inline const ProfileOptions kAllFullDates = {ProfileOption::RetainUids,
                                             ProfileOption::RetainDeviceIdentity,
                                             ProfileOption::RetainInstitutionIdentity,
                                             ProfileOption::RetainPatientCharacteristics,
                                             ProfileOption::RetainLongitudinalFullDates,
                                             ProfileOption::CleanDescriptors,
                                             ProfileOption::CleanStructuredContent,
                                             ProfileOption::CleanGraphics};

}  // namespace router::deid::test
