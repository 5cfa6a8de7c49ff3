// Best-effort cleaning of free text (see TextCleaner.h).
#include "plugins/core/deid/TextCleaner.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace router::deid {

namespace {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// Whole values (IDs, dates) and, for names and addresses, their parts: PN
// components are separated by ^ and =, words by spaces and commas.
void collect(DcmItem& dataset, const DcmTagKey& key, bool words, std::set<std::string>& out) {
  OFString all;
  if (dataset.findAndGetOFStringArray(key, all).bad()) return;
  std::string value(all.c_str(), all.length());
  auto add = [&](std::string part) {
    while (!part.empty() && (part.back() == ' ' || part.back() == '\0')) part.pop_back();
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    // One letter is too common a word to remove ("A", "I").
    if (part.size() >= 2) out.insert(upper(part));
  };
  std::string part;
  for (char c : value) {
    const bool separator = c == '\\' || (words && (c == '^' || c == '=' || c == ' ' || c == ','));
    if (separator) {
      add(part);
      part.clear();
    } else {
      part.push_back(c);
    }
  }
  add(part);
}

}  // namespace

TextCleaner::TextCleaner(DcmItem& dataset, const ProfileOptions& options) {
  std::set<std::string> found;
  for (const DcmTagKey& key :
       {DCM_PatientName, DCM_OtherPatientNames, DCM_PatientBirthName, DCM_PatientMotherBirthName,
        DCM_ReferringPhysicianName, DCM_PerformingPhysicianName, DCM_NameOfPhysiciansReadingStudy,
        DCM_OperatorsName, DCM_PhysiciansOfRecord, DCM_RequestingPhysician,
        DCM_ResponsiblePerson}) {
    collect(dataset, key, /*words=*/true, found);
  }
  for (const DcmTagKey& key :
       {DCM_PatientID, DCM_RETIRED_OtherPatientIDs, DCM_AccessionNumber, DCM_PatientBirthDate,
        DCM_RETIRED_MedicalRecordLocator, DCM_AdmissionID, DCM_PatientTelephoneNumbers, DCM_StudyID,
        DCM_IssuerOfPatientID, DCM_PatientAddress}) {
    collect(dataset, key, /*words=*/false, found);
  }
  if (!options.count(ProfileOption::RetainInstitutionIdentity)) {
    for (const DcmTagKey& key :
         {DCM_InstitutionName, DCM_InstitutionAddress, DCM_InstitutionalDepartmentName})
      collect(dataset, key, /*words=*/false, found);
  }
  if (!options.count(ProfileOption::RetainDeviceIdentity)) {
    for (const DcmTagKey& key : {DCM_StationName, DCM_DeviceSerialNumber})
      collect(dataset, key, /*words=*/false, found);
  }
  if (!options.count(ProfileOption::RetainLongitudinalFullDates)) {
    for (const DcmTagKey& key :
         {DCM_StudyDate, DCM_SeriesDate, DCM_AcquisitionDate, DCM_ContentDate})
      collect(dataset, key, /*words=*/false, found);
  }
  identifiers_.assign(found.begin(), found.end());
}

std::string TextCleaner::clean(const std::string& text) const {
  std::string out = text;
  const std::string haystack = upper(text);
  std::vector<bool> hidden(text.size(), false);
  for (const std::string& word : identifiers_) {
    for (size_t at = haystack.find(word); at != std::string::npos;
         at = haystack.find(word, at + 1)) {
      const size_t end = at + word.size();
      const bool starts = at == 0 || !isWordChar(haystack[at - 1]) || !isWordChar(word.front());
      const bool ends =
          end == haystack.size() || !isWordChar(haystack[end]) || !isWordChar(word.back());
      if (starts && ends) std::fill(hidden.begin() + at, hidden.begin() + end, true);
    }
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (hidden[i]) out[i] = '*';
  return out;
}

}  // namespace router::deid
