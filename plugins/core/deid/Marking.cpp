// The burned-in pixel check and the de-identification marking (see Marking.h).
#include "plugins/core/deid/Marking.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <set>

#include "plugins/core/Error.h"
#include "plugins/core/dicom/Uid.h"

namespace router::deid {

namespace {

std::string text(DcmItem& item, const DcmTagKey& key) {
  OFString value;
  if (item.findAndGetOFStringArray(key, value, /*normalize=*/true).bad()) return {};
  return trimText(std::string_view(value.c_str(), value.length()), false);
}

bool isSecondaryCapture(const std::string& sopClass) {
  static const std::set<std::string> kClasses = {
      UID_SecondaryCaptureImageStorage,
      UID_MultiframeSingleBitSecondaryCaptureImageStorage,
      UID_MultiframeGrayscaleByteSecondaryCaptureImageStorage,
      UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage,
      UID_MultiframeTrueColorSecondaryCaptureImageStorage,
  };
  return kClasses.count(sopClass) != 0;
}

void check(const OFCondition& status, const char* what) {
  if (status.bad())
    throw RouterError(std::string("de-identification: cannot set ") + what + ": " + status.text());
}

}  // namespace

const std::vector<std::string>& burnedInModalities() {
  static const std::vector<std::string> kModalities = {"US", "IVUS", "ES", "XC", "GM",
                                                       "SM", "OT",   "SC", "DOC"};
  return kModalities;
}

std::optional<std::string> burnedInRefusal(DcmItem& dataset) {
  return burnedInRefusal(dataset, burnedInModalities());
}

std::optional<std::string> burnedInRefusal(DcmItem& dataset, const std::vector<std::string>& risky) {
  const bool pixels = dataset.tagExists(DCM_PixelData) || dataset.tagExists(DCM_FloatPixelData) ||
                      dataset.tagExists(DCM_DoubleFloatPixelData);
  const bool document = dataset.tagExists(DCM_EncapsulatedDocument);
  if (!pixels && !document) return std::nullopt;
  const std::string what = pixels ? "pixels" : "encapsulated document";
  std::string burnedIn = text(dataset, DCM_BurnedInAnnotation);
  std::transform(burnedIn.begin(), burnedIn.end(), burnedIn.begin(), ::toupper);
  if (burnedIn == "NO") return std::nullopt;
  const std::string modality = text(dataset, DCM_Modality);
  const std::string sopClass = readUid(dataset, DCM_SOPClassUID);
  const char* className = dcmFindNameOfUID(sopClass.c_str(), nullptr);
  const std::string describe = "modality " + (modality.empty() ? std::string("(none)") : modality) +
                               ", " + (className != nullptr ? className : "SOP class " + sopClass);
  const std::string advice =
      "; de-identification does not remove text from pixels, so the instance is not sent. If this "
      "source is "
      "known not to burn in text, set BurnedInAnnotation NO at the modality (or, for the whole "
      "project, RefuseBurnedIn false or a shorter BurnedInModalities in Router.Deidentification); "
      "otherwise send it elsewhere";
  if (burnedIn == "YES") {
    return "de-identification refused: BurnedInAnnotation is YES (" + describe + "): the " + what +
           " show identifying text" + advice;
  }
  const bool riskyModality = std::find(risky.begin(), risky.end(), modality) != risky.end();
  if (riskyModality || isSecondaryCapture(sopClass) || document) {
    return "de-identification refused: no BurnedInAnnotation (" + describe + "), and " +
           (document ? std::string("documents") : "images of this kind") +
           " commonly carry the patient's name or dates in the " + what + advice;
  }
  return std::nullopt;
}

void markDeidentified(DcmItem& dataset, const ProfileOptions& options, bool retainSafePrivate,
                      const std::vector<std::string>& methodText) {
  check(dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES"), "PatientIdentityRemoved");
  std::string method;
  for (const std::string& value : methodText) method += (method.empty() ? "" : "\\") + value;
  check(dataset.putAndInsertString(DCM_DeidentificationMethod, method.c_str()),
        "DeidentificationMethod");

  std::vector<std::pair<std::string, std::string>> codes = {
      {kBasicProfileCode, kBasicProfileMeaning}};
  for (ProfileOption option : options)
    codes.emplace_back(optionNames(option).code, optionNames(option).meaning);
  if (retainSafePrivate) codes.emplace_back(kRetainSafePrivateCode, kRetainSafePrivateMeaning);
  std::set<std::string> present;
  DcmSequenceOfItems* sequence = nullptr;
  if (dataset.findAndGetSequence(DCM_DeidentificationMethodCodeSequence, sequence).good() &&
      sequence) {
    for (unsigned long i = 0; i < sequence->card(); ++i) {
      if (text(*sequence->getItem(i), DCM_CodingSchemeDesignator) == "DCM")
        present.insert(text(*sequence->getItem(i), DCM_CodeValue));
    }
  }
  for (const auto& [code, meaning] : codes) {
    if (present.count(code)) continue;
    DcmItem* item = nullptr;
    check(dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2),
          "DeidentificationMethodCodeSequence");
    check(item->putAndInsertString(DCM_CodeValue, code.c_str()), "CodeValue");
    check(item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM"), "CodingSchemeDesignator");
    check(item->putAndInsertString(DCM_CodeMeaning, meaning.c_str()), "CodeMeaning");
  }

  const char* temporal = options.count(ProfileOption::RetainLongitudinalFullDates) ? "UNMODIFIED"
                         : options.count(ProfileOption::RetainLongitudinalModifiedDates)
                             ? "MODIFIED"
                             : "REMOVED";
  check(dataset.putAndInsertString(DCM_LongitudinalTemporalInformationModified, temporal),
        "LongitudinalTemporalInformationModified");
}

}  // namespace router::deid
