// Test data for de-identification (see Identifying.h).
#include "tests/generator/Identifying.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrobow.h>

#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "plugins/core/dicom/DicomBuffer.h"

namespace router::testdata {
namespace {

void check(bool ok, const deid::ProfileRow& row) {
  if (!ok) throw std::runtime_error(std::string("test data: DCMTK refused a value of ") + row.name);
}

}  // namespace

// The VRs of the table's attributes that DCMTK 3.6.7's dictionary does not
// know yet (added to the standard after 2022), from PS3.6.
DcmEVR vrOf(const deid::ProfileRow& row) {
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

bool isRowInDataset(const deid::ProfileRow& row) {
  // Command (0000) and file meta (0002) attributes never sit in a dataset;
  // PatientID and PatientName get the pseudonym (checked on their own).
  if (row.group == 0x0000 || row.group == 0x0002) return false;
  if (row.group == 0x0010 && (row.element == 0x0010 || row.element == 0x0020)) return false;
  return true;
}

std::string hex(const deid::ProfileRow& row) {
  char out[16];
  std::snprintf(out, sizeof out, "%04X%04X", row.group, row.element);
  return out;
}

// A value of the row's VR, different for every row, so that a value found in
// the output can only have come from its own element.
std::string valueFor(const deid::ProfileRow& row, size_t index, DcmEVR vr) {
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
      return std::string(kIdentifyingRoot) + ".9." + std::to_string(index);
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
  return std::string(kIdentifyingRoot) + ".8." + std::to_string(index);
}

void insertRow(DcmItem& item, const deid::ProfileRow& row, size_t index) {
  const DcmEVR vr = vrOf(row);
  const DcmTag tag(row.group, row.element, DcmVR(vr));
  if (vr == EVR_SQ) {
    auto* sequence = new DcmSequenceOfItems(tag);
    auto* child = new DcmItem;
    child->putAndInsertString(DCM_CodeValue, ("C" + hex(row)).c_str());
    child->putAndInsertString(DCM_ReferencedSOPInstanceUID, childUidFor(index).c_str());
    sequence->insert(child);
    check(item.insert(sequence, /*replaceOld=*/true).good(), row);
    return;
  }
  if (vr == EVR_OB || vr == EVR_UN) {
    const Uint8 bytes[4] = {1, 2, 3, 4};
    auto* element = new DcmOtherByteOtherWord(tag);  // putAndInsertUint8Array() refuses UN
    check(element->putUint8Array(bytes, 4).good(), row);
    check(item.insert(element, /*replaceOld=*/true).good(), row);
    return;
  }
  if (vr == EVR_OW) {
    const Uint16 words[2] = {0x0102, 0x0304};
    check(item.putAndInsertUint16Array(tag, words, 2).good(), row);
    return;
  }
  check(item.putAndInsertString(tag, valueFor(row, index, vr).c_str()).good(), row);
}

void insertEveryRow(DcmItem& item) {
  size_t count = 0;
  const deid::ProfileRow* rows = deid::profileRows(count);
  for (size_t i = 0; i < count; ++i)
    if (isRowInDataset(rows[i])) insertRow(item, rows[i], i);
}

// Private creators and elements (safe-listed and not), a private sequence,
// one private element without a creator, a curve and an overlay.
void insertPrivateAndRepeating(DcmItem& item, bool withGroups) {
  item.putAndInsertString(DcmTag(0x0009, 0x0010, DcmVR(EVR_LO)), kSafeCreator);
  item.putAndInsertString(DcmTag(0x0009, 0x1001, DcmVR(EVR_LO)), "private-safe");
  item.putAndInsertString(DcmTag(0x0009, 0x1002, DcmVR(EVR_LO)), "private-unsafe Doe");
  item.putAndInsertString(DcmTag(0x0011, 0x0010, DcmVR(EVR_LO)), "VENDOR X");
  item.putAndInsertString(DcmTag(0x0011, 0x1001, DcmVR(EVR_LO)), "private-vendor");
  item.putAndInsertString(DcmTag(0x0011, 0x1002, DcmVR(EVR_UI)),
                          (std::string(kIdentifyingRoot) + ".7.1").c_str());
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
  if (parent.findOrCreateSequenceItem(sequence, item, 0).bad() || item == nullptr)
    throw std::runtime_error("test data: cannot make an item of " +
                             std::string(DcmTag(sequence).getTagName()));
  return *item;
}

std::string instanceWithEveryRow(ImageSpec spec, bool keepInstanceUids) {
  spec = withIdentity(spec);
  spec.modality = "CT";
  spec.sopClassUid.clear();
  spec.signedPixels = true;
  std::unique_ptr<DcmFileFormat> file = parseDicom(makeInstance(spec));
  DcmDataset& top = *file->getDataset();
  DcmItem& depth1 = childOf(top, DCM_ReferencedSeriesSequence);
  DcmItem& depth2 = childOf(depth1, DCM_ReferencedSOPSequence);
  for (DcmItem* item : std::vector<DcmItem*>{&top, &depth1, &depth2}) {
    insertEveryRow(*item);
    insertPrivateAndRepeating(*item, item == &top);
    item->putAndInsertString(DCM_PatientID, spec.patientId.c_str());
    item->putAndInsertString(DCM_PatientName, spec.patientName.c_str());
  }
  if (keepInstanceUids) {
    // The table's U rows gave them one value for every instance; a series needs its own.
    top.putAndInsertString(DCM_StudyInstanceUID, spec.studyInstanceUid.c_str());
    top.putAndInsertString(DCM_SeriesInstanceUID, spec.seriesInstanceUid.c_str());
    top.putAndInsertString(DCM_SOPInstanceUID, spec.sopInstanceUid.c_str());
  }
  return serializeDicom(*file);
}

}  // namespace router::testdata
