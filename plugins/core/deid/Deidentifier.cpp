// The de-identification engine (see Deidentifier.h): walks every element of a
// dataset, item by item and sequence by sequence, and applies the row of
// Table E.1-1 that names it, the pattern rows (curves, overlays, private
// attributes), the UID and pseudonym rules, then marks the result.
//
// Compound codes, resolved without knowing the IOD (the standard wants "X
// unless the IOD needs Z or D"; which type an attribute has depends on the
// IOD and, for macros, on where it sits, which this code does not model):
//   X/Z             -> Z: zero length satisfies a Type 2 attribute and is
//                      allowed for a Type 3 one; nothing identifying is left.
//                      A sequence without items, though, is valid only where
//                      it is Type 2: X/Z on a sequence is Z for Acquisition
//                      Context Sequence (Type 2) and X for Referenced Study
//                      Sequence (Type 3), the table's only two such rows.
//   X/D, Z/D, X/Z/D -> D: a dummy satisfies Type 1, 2 and 3 alike. An element
//                      that is already empty stays empty (nothing to hide,
//                      and it was acceptable to the IOD before).
//   X/Z/U*          -> the sequence stays; every UID in it is replaced, and
//                      everything else in it goes through the table like
//                      anywhere else.
// On sequences: Z empties the sequence (no items); D keeps the items but
// replaces, below it, every text value the table does not otherwise handle
// (AE LO LT PN SH ST UC UR UT) by a dummy, since codes and words of a
// "dummy" sequence cannot be kept (e.g. the code of Person Identification
// Code Sequence names the person); C keeps the items and cleans those text
// values (TextCleaner); K keeps them. Elements of the table inside a sequence
// always follow their own row.
// Additions to the table, all in the direction of removing more:
//   - every UI element the table does not list is replaced too (unless it is
//     a well-known UID, or Retain UIDs is on), so references never point to
//     an original UID;
//   - PN elements the table does not list are emptied (a person's name is
//     identifying wherever it is; the 2024b table misses a few, e.g.
//     Evaluator Name (0014,2006));
//   - an overlay group (60xx) goes whole: its Overlay Data and Comments are X,
//     and an overlay plane without its data is not valid;
//   - a Type 1C attribute that may be present only with another one the
//     table removes goes too (removeOrphanedConditionals: the ethics
//     committee's name without its approval number).
#include "plugins/core/deid/Deidentifier.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "plugins/core/deid/DateShift.h"
#include "plugins/core/deid/Marking.h"
#include "plugins/core/deid/TextCleaner.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"

namespace router::deid {

namespace {

constexpr const char* kDummyText = "ANONYMIZED";
constexpr const char* kDummyDate = "19000101";
constexpr const char* kDummyTime = "000000";
constexpr const char* kDummyDateTime = "19000101000000";

// UI attributes whose values name a kind of thing (a SOP class, a transfer
// syntax, a coding scheme, a template), never an instance: kept as they are.
const std::set<DcmTagKey>& classUidTags() {
  static const std::set<DcmTagKey> kTags = {
      DCM_MediaStorageSOPClassUID,
      DCM_TransferSyntaxUID,
      DCM_ImplementationClassUID,
      DCM_ReferencedSOPClassUIDInFile,
      DCM_ReferencedTransferSyntaxUIDInFile,
      DCM_SOPClassUID,
      DCM_RelatedGeneralSOPClassUID,
      DCM_OriginalSpecializedSOPClassUID,
      DCM_SOPClassesInStudy,
      DCM_CodingSchemeUID,
      DCM_ContextUID,
      DCM_MappingResourceUID,
      DCM_ReferencedSOPClassUID,
      DCM_MACCalculationTransferSyntaxUID,
      DCM_EncryptedContentTransferSyntaxUID,
      DCM_PrivateInformationCreatorUID,
  };
  return kTags;
}

// The standard's own UIDs (1.2.840.10008.*: SOP classes, transfer syntaxes,
// well-known frames of reference, coding schemes) and those DCMTK knows by
// name (vendors' private SOP classes among them) identify no one.
bool isWellKnownUid(const std::string& uid) {
  return uid.rfind("1.2.840.10008.", 0) == 0 || dcmFindNameOfUID(uid.c_str(), nullptr) != nullptr;
}

bool isTextVr(DcmEVR vr) {
  switch (vr) {
    case EVR_AE:
    case EVR_LO:
    case EVR_LT:
    case EVR_PN:
    case EVR_SH:
    case EVR_ST:
    case EVR_UC:
    case EVR_UR:
    case EVR_UT:
      return true;
    default:
      return false;
  }
}

// Of the two X/Z sequences of the table, the one that is Type 2 in the
// modules that hold it (Acquisition Context Module, and the SR and enhanced
// IODs that include it). The other, Referenced Study Sequence, is Type 3
// (General Study Module), and a Type 3 sequence without items is invalid.
bool isType2Sequence(const DcmTagKey& tag) {
  return tag == DCM_AcquisitionContextSequence;
}

bool isTemporalVr(DcmEVR vr) {
  return vr == EVR_DA || vr == EVR_DT || vr == EVR_TM;
}

std::string tagText(const DcmTagKey& tag) {
  char out[16];
  std::snprintf(out, sizeof out, "(%04X,%04X)", tag.getGroup(), tag.getElement());
  return out;
}

void check(const OFCondition& status, DcmElement& e, const char* what) {
  if (status.bad()) {
    throw RouterError("de-identification: cannot " + std::string(what) + " " + tagText(e.getTag()) +
                      ": " + status.text());
  }
}

std::string stringOf(DcmElement& e) {
  OFString value;
  if (e.getOFStringArray(value).bad()) return {};
  return std::string(value.c_str(), value.length());
}

std::vector<std::string> splitValues(const std::string& all) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = all.find('\\', start);
    out.push_back(all.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::string joinValues(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "\\" : "") + values[i];
  return out;
}

std::string trimmedString(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  if (item.findAndGetOFStringArray(key, value).bad()) return {};
  return trimText(std::string_view(value.c_str(), value.length()), false);
}

// What happens to one element, once its code and VR are known.
enum class Act { Keep, Remove, Empty, Dummy, MapUids, Clean, Recurse };

struct Context {
  bool dummyText = false;  // below a sequence the table replaces by a dummy
  bool cleanText = false;  // below a sequence the table cleans
};

// One apply(): the state of a walk through one dataset.
class Walk {
 public:
  Walk(const Deidentifier& owner, DcmItem& dataset, DeidResult& result)
      : options_(owner.options()),
        hash_(owner.hash()),
        cleaner_(dataset, options_.options),
        result_(result),
        retainUids_(options_.options.count(ProfileOption::RetainUids) != 0) {
    result_.originalPatientId = trimmedString(dataset, DCM_PatientID);
    result_.originalPatientName = trimmedString(dataset, DCM_PatientName);
    // The pseudonym derives from the patient ID; without one, from what else
    // identifies the patient, so that it is still the same on every instance.
    patientKey_ = result_.originalPatientId;
    if (patientKey_.empty()) {
      const std::string birth = trimmedString(dataset, DCM_PatientBirthDate);
      if (!result_.originalPatientName.empty() || !birth.empty())
        patientKey_ = "name:" + result_.originalPatientName + "|" + birth;
      else
        patientKey_ = "study:" + readUid(dataset, DCM_StudyInstanceUID);
    }
    result_.patientKey = patientKey_;
    result_.pseudonym = options_.pseudonyms != nullptr
                            ? options_.pseudonyms->pseudonymFor(hash_.project(), patientKey_,
                                                                result_.originalPatientId,
                                                                result_.originalPatientName)
                            : hash_.pseudonym(patientKey_);
    if (options_.options.count(ProfileOption::RetainLongitudinalModifiedDates))
      result_.dateShiftDays = hash_.dateShiftDays(patientKey_);
  }

  void item(DcmItem& item, Context ctx) {
    // Private creators of this item: (group, block) -> creator value.
    std::map<std::pair<Uint16, Uint16>, std::string> creators;
    std::vector<DcmElement*> elements;
    for (unsigned long i = 0; i < item.card(); ++i) {
      DcmElement* e = item.getElement(i);
      elements.push_back(e);
      const DcmTagKey tag = e->getTag();
      if (tag.isPrivate() && tag.getElement() >= 0x0010 && tag.getElement() <= 0x00ff)
        creators[{tag.getGroup(), tag.getElement()}] = trimText(stringOf(*e), false);
    }
    std::set<std::pair<Uint16, Uint16>> creatorsInUse;
    std::vector<DcmElement*> creatorElements;
    const std::string itemPatientId = trimmedString(item, DCM_PatientID);

    for (DcmElement* e : elements) {
      const DcmTagKey tag = e->getTag();
      const Uint16 g = tag.getGroup(), el = tag.getElement();
      if (tag.isPrivate()) {
        if (el >= 0x0010 && el <= 0x00ff) {
          creatorElements.push_back(e);
        } else if (el > 0x00ff && isSafePrivate(g, creators, el)) {
          creatorsInUse.insert({g, static_cast<Uint16>(el >> 8)});
          keepAndDescend(*e, ctx);
        } else {
          remove(item, e);  // private data, group length (gggg,0000), or (gggg,0001-000F)
        }
        continue;
      }
      if (g == 0x0002) continue;  // meta information belongs to the file (apply(DcmFileFormat&))
      if (el == 0x0000 || (g >= 0x5000 && g <= 0x50ff) || (g >= 0x6000 && g <= 0x60ff)) {
        remove(item, e);  // group lengths (retired), curves, overlays
        continue;
      }
      if (tag == DCM_PatientID) {
        if (!(itemPatientId.empty() && depth_ > 0)) setValue(*e, pseudonymFor(itemPatientId));
        continue;
      }
      if (tag == DCM_PatientName) {
        setValue(*e, itemPatientId.empty() ? result_.pseudonym : pseudonymFor(itemPatientId));
        continue;
      }
      if (const ProfileRow* row = findProfileRow(g, el)) {
        perform(item, e, resolve(*row, *e), ctx);
        continue;
      }
      perform(item, e, unlisted(*e, ctx), ctx);
    }

    for (DcmElement* e : creatorElements) {
      const DcmTagKey tag = e->getTag();
      if (!creatorsInUse.count({tag.getGroup(), tag.getElement()})) remove(item, e);
    }
    removeOrphanedConditionals(item);
  }

 private:
  bool isSafePrivate(Uint16 group, const std::map<std::pair<Uint16, Uint16>, std::string>& creators,
                     Uint16 el) const {
    auto creator = creators.find({group, static_cast<Uint16>(el >> 8)});
    if (creator == creators.end()) return false;
    for (const SafePrivateTag& safe : options_.safePrivateTags) {
      if (safe.group == group && safe.element == (el & 0xff) && safe.creator == creator->second)
        return true;
    }
    return false;
  }

  // A Type 1C attribute whose condition is another attribute's presence
  // may not be present without it. Where the table dummies the first and
  // removes the second, the first goes too (found by dciodvfy):
  //   Clinical Trial Protocol Ethics Committee Name (0012,0081), D, is
  //   required if, and only if, Clinical Trial Protocol Ethics Committee
  //   Approval Number (0012,0082), X, is present (Clinical Trial Subject
  //   Module, PS3.3 C.7.1.3).
  // Not when an option keeps it (K): the option asked for it.
  void removeOrphanedConditionals(DcmItem& item) {
    static const std::pair<DcmTagKey, DcmTagKey> kConditional[] = {
        {DCM_ClinicalTrialProtocolEthicsCommitteeName, DCM_ClinicalTrialProtocolEthicsCommitteeApprovalNumber},
    };
    for (const auto& [dependent, condition] : kConditional) {
      if (!item.tagExists(dependent) || item.tagExists(condition)) continue;
      const ProfileRow* row = findProfileRow(dependent.getGroup(), dependent.getElement());
      if (row != nullptr && effectiveCode(*row, options_.options, false) == Code::K) continue;
      delete item.remove(dependent);
    }
  }

  std::string pseudonymFor(const std::string& patientId) const {
    if (patientId.empty() || patientId == result_.originalPatientId) return result_.pseudonym;
    return options_.pseudonyms != nullptr
               ? options_.pseudonyms->pseudonymFor(hash_.project(), patientId, patientId, "")
               : hash_.pseudonym(patientId);
  }

  // The row's code under the options, resolved for this element's VR.
  Act resolve(const ProfileRow& row, DcmElement& e) const {
    const DcmEVR vr = e.ident();
    const bool sequence = vr == EVR_SQ;
    switch (effectiveCode(row, options_.options, isTemporalVr(vr))) {
      case Code::K:
        return sequence ? Act::Recurse : Act::Keep;
      case Code::X:
        return Act::Remove;
      case Code::Z:
        return Act::Empty;
      case Code::XZ:
        // An empty sequence is valid only where the attribute is Type 2.
        if (sequence) return isType2Sequence(e.getTag()) ? Act::Empty : Act::Remove;
        return Act::Empty;
      case Code::D:
      case Code::XD:
      case Code::ZD:
      case Code::XZD:
        if (vr == EVR_UI) return Act::MapUids;
        return Act::Dummy;
      case Code::U:
        return Act::MapUids;
      case Code::XZU:
        return sequence ? Act::Recurse : Act::Empty;
      case Code::C:
        return Act::Clean;
      case Code::None:
        break;
    }
    return Act::Remove;  // not reached: every row has a basic code
  }

  // An element the table does not list.
  Act unlisted(DcmElement& e, Context ctx) const {
    const DcmEVR vr = e.ident();
    if (vr == EVR_SQ) return Act::Recurse;
    if (vr == EVR_UI) {
      return retainUids_ || classUidTags().count(e.getTag()) ? Act::Keep : Act::MapUids;
    }
    if (vr == EVR_PN) return Act::Empty;
    if (isTextVr(vr) && ctx.dummyText) return Act::Dummy;
    if (isTextVr(vr) && ctx.cleanText) return Act::Clean;
    return Act::Keep;
  }

  void perform(DcmItem& item, DcmElement* e, Act act, Context ctx) {
    const DcmEVR vr = e->ident();
    switch (act) {
      case Act::Keep:
        return;
      case Act::Remove:
        return remove(item, e);
      case Act::Empty:
        if (vr == EVR_SQ) {
          auto* sequence = static_cast<DcmSequenceOfItems*>(e);
          while (sequence->card() > 0) delete sequence->remove(0UL);
        } else {
          check(e->clear(), *e, "empty");
        }
        return;
      case Act::Dummy:
        if (vr == EVR_SQ) return descend(*e, Context{true, ctx.cleanText});
        return dummy(item, e);
      case Act::MapUids:
        return mapUids(item, e);
      case Act::Clean:
        if (vr == EVR_SQ) return descend(*e, Context{ctx.dummyText, true});
        return clean(item, e);
      case Act::Recurse:
        return descend(*e, ctx);
    }
  }

  // A kept element still has its UIDs replaced and its items de-identified.
  void keepAndDescend(DcmElement& e, Context ctx) {
    if (e.ident() == EVR_SQ) return descend(e, ctx);
    if (e.ident() == EVR_UI && !retainUids_) mapUidValues(e);
  }

  void descend(DcmElement& e, Context ctx) {
    auto& sequence = static_cast<DcmSequenceOfItems&>(e);
    ++depth_;
    for (unsigned long i = 0; i < sequence.card(); ++i) item(*sequence.getItem(i), ctx);
    --depth_;
  }

  void remove(DcmItem& item, DcmElement* e) { delete item.remove(e); }

  void setValue(DcmElement& e, const std::string& value) {
    check(e.putString(value.c_str()), e, "set");
  }

  void dummy(DcmItem& item, DcmElement* e) {
    if (e->getLength() == 0) return;
    const DcmEVR vr = e->ident();
    if (vr == EVR_CS || isTextVr(vr)) return setValue(*e, kDummyText);
    switch (vr) {
      case EVR_DA:
        return setValue(*e, kDummyDate);
      case EVR_TM:
        return setValue(*e, kDummyTime);
      case EVR_DT:
        return setValue(*e, kDummyDateTime);
      case EVR_AS:
        return setValue(*e, "000Y");
      case EVR_DS:
      case EVR_IS:
      case EVR_US:
      case EVR_SS:
      case EVR_UL:
      case EVR_SL:
      case EVR_FL:
      case EVR_FD:
      case EVR_SV:
      case EVR_UV: {
        std::vector<std::string> zeros(std::max<unsigned long>(1, e->getVM()), "0");
        return setValue(*e, joinValues(zeros));
      }
      case EVR_OB:
      case EVR_UN: {
        std::vector<Uint8> zeros(e->getLength(), 0);
        check(e->putUint8Array(zeros.data(), static_cast<unsigned long>(zeros.size())), *e,
              "replace");
        return;
      }
      case EVR_OW: {
        std::vector<Uint16> zeros(e->getLength() / 2, 0);
        check(e->putUint16Array(zeros.data(), static_cast<unsigned long>(zeros.size())), *e,
              "replace");
        return;
      }
      default:
        // No row of the table asks for a dummy of another VR (AT, OF, OD...):
        // removing is the safe way to replace what cannot be faked.
        return remove(item, e);
    }
  }

  void clean(DcmItem& item, DcmElement* e) {
    const DcmEVR vr = e->ident();
    if (vr == EVR_UI) {
      if (!retainUids_) mapUidValues(*e);
      return;
    }
    if (vr == EVR_DA || vr == EVR_DT) {
      // C on a date comes from the modified-dates option: move it back.
      if (!options_.options.count(ProfileOption::RetainLongitudinalModifiedDates)) return;
      std::vector<std::string> values = splitValues(stringOf(*e));
      for (std::string& value : values) {
        const std::string trimmed = trimText(value, false);
        std::optional<std::string> moved = vr == EVR_DA
                                               ? shiftDate(trimmed, result_.dateShiftDays)
                                               : shiftDateTime(trimmed, result_.dateShiftDays);
        value = moved ? *moved : std::string();
      }
      return setValue(*e, joinValues(values));
    }
    if (vr == EVR_UN || vr == EVR_OB || vr == EVR_OW)
      return remove(item, e);  // bytes cannot be cleaned
    if (isTextVr(vr) || vr == EVR_CS) {
      const std::string before = stringOf(*e);
      const std::string after = cleaner_.clean(before);
      if (after != before) setValue(*e, after);
    }
    // TM (times stay with whole-day shifts), numbers, codes: nothing to clean.
  }

  std::string mapUid(const std::string& original) {
    if (original.empty() || isWellKnownUid(original)) return original;
    std::string replacement = hash_.uid(original);
    result_.uids[original] = replacement;
    return replacement;
  }

  void mapUidValues(DcmElement& e) {
    std::vector<std::string> values = splitValues(stringOf(e));
    for (std::string& value : values) value = mapUid(trimUid(value));
    setValue(e, joinValues(values));
  }

  void mapUids(DcmItem& item, DcmElement* e) {
    const DcmEVR vr = e->ident();
    if (vr == EVR_UI) return mapUidValues(*e);
    if (vr == EVR_UN || vr == EVR_OB) {
      // A UID attribute read without its VR (implicit VR, unknown to DCMTK's dictionary).
      const std::string uid = readUid(item, e->getTag());
      std::string bytes = mapUid(uid);
      if (bytes.size() % 2) bytes.push_back('\0');
      check(e->putUint8Array(reinterpret_cast<const Uint8*>(bytes.data()),
                             static_cast<unsigned long>(bytes.size())),
            *e, "replace");
      return;
    }
    remove(item, e);  // a UID attribute with a VR that cannot hold a UID
  }

  const DeidOptions& options_;
  const KeyedHash& hash_;
  TextCleaner cleaner_;
  DeidResult& result_;
  const bool retainUids_;
  std::string patientKey_;
  int depth_ = 0;
};

std::string sanitizedLo(std::string text) {
  for (char& c : text)
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '/';
  if (text.size() > 64) text.resize(64);
  return text;
}

}  // namespace

Code effectiveCode(const ProfileRow& row, const ProfileOptions& options, bool isTemporal) {
  if (isTemporal) {
    for (ProfileOption dates : {ProfileOption::RetainLongitudinalFullDates,
                                ProfileOption::RetainLongitudinalModifiedDates}) {
      const Code code = row.option[static_cast<size_t>(dates)];
      if (options.count(dates) && code != Code::None) return code;
    }
  }
  Code chosen = Code::None;
  for (ProfileOption option : options) {
    const Code code = row.option[static_cast<size_t>(option)];
    if (code == Code::K || (code == Code::C && chosen != Code::K) ||
        (code != Code::None && chosen == Code::None))
      chosen = code;
  }
  return chosen != Code::None ? chosen : row.basic;
}

Deidentifier::Deidentifier(DeidOptions options)
    : options_(std::move(options)), hash_(options_.project, options_.key, options_.uidRoot) {
  if (options_.options.count(ProfileOption::RetainLongitudinalFullDates) &&
      options_.options.count(ProfileOption::RetainLongitudinalModifiedDates)) {
    throw ConfigError(
        "de-identification: RetainLongitudinalFullDates and RetainLongitudinalModifiedDates "
        "exclude each other");
  }
  for (const SafePrivateTag& safe : options_.safePrivateTags) {
    if (safe.group % 2 == 0 || safe.creator.empty()) {
      throw ConfigError("de-identification: safe private tag " +
                        tagText(DcmTagKey(safe.group, safe.element)) + " \"" + safe.creator +
                        "\": private tags have an odd group and a creator");
    }
  }
}

std::vector<std::string> Deidentifier::methodDescription() const {
  std::vector<std::string> text = {std::string("orthanc-router ") + kProfileEdition +
                                   " Basic Profile"};
  for (ProfileOption option : options_.options) text.push_back(optionNames(option).meaning);
  if (!options_.safePrivateTags.empty()) text.push_back(kRetainSafePrivateMeaning);
  text.push_back(sanitizedLo("project " + options_.project));
  return text;
}

DeidResult Deidentifier::apply(DcmDataset& dataset) const {
  if (options_.refuseBurnedIn) {
    if (std::optional<std::string> reason = burnedInRefusal(
            dataset, options_.burnedInModalities ? *options_.burnedInModalities : burnedInModalities()))
      throw DeidentificationRefused(*reason);
  }
  DeidResult result;
  Walk walk(*this, dataset, result);
  walk.item(dataset, Context{});
  markDeidentified(dataset, options_.options, !options_.safePrivateTags.empty(),
                   methodDescription());
  return result;
}

DeidResult Deidentifier::apply(DcmFileFormat& file) const {
  DeidResult result = apply(*file.getDataset());
  DcmMetaInfo& meta = *file.getMetaInfo();
  const std::string oldMetaUid = readUid(meta, DCM_MediaStorageSOPInstanceUID);
  const std::string newUid = readUid(*file.getDataset(), DCM_SOPInstanceUID);
  if (!newUid.empty()) {
    OFCondition status = meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, newUid.c_str());
    if (status.bad())
      throw RouterError(std::string("de-identification: MediaStorageSOPInstanceUID: ") +
                        status.text());
    if (!oldMetaUid.empty() && oldMetaUid != newUid && !result.uids.count(oldMetaUid) &&
        !options_.options.count(ProfileOption::RetainUids))
      result.uids[oldMetaUid] = newUid;
  }
  if (!options_.options.count(ProfileOption::RetainDeviceIdentity)) {
    for (const DcmTagKey& key :
         {DCM_SourceApplicationEntityTitle, DCM_SendingApplicationEntityTitle,
          DCM_ReceivingApplicationEntityTitle})
      delete meta.remove(key);
  }
  delete meta.remove(DCM_PrivateInformationCreatorUID);
  delete meta.remove(DCM_PrivateInformation);
  return result;
}

DeidentifiedFile deidentifyPart10(const std::string& part10, const Deidentifier& deidentifier) {
  std::unique_ptr<DcmFileFormat> file = parseDicom(part10);
  DeidentifiedFile out;
  out.result = deidentifier.apply(*file);
  out.part10 = serializeDicom(*file);
  return out;
}

}  // namespace router::deid
