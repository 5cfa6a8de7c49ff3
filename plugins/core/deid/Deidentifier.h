// De-identification of one DICOM instance by PS3.15 Annex E, the Basic
// Application Level Confidentiality Profile with the options of
// ProfileTable.h, on DCMTK's DcmDataset. Routes use it through Projects.h
// (a route's deidentify option, applied in delivery's Preparation).
//
// What it does to an instance (the README's "De-identification" section says
// the same for users):
//   - every element at every depth (every item of every sequence) gets the
//     action of its row in Table E.1-1, as the options change it; compound
//     actions are resolved without knowing the IOD (see the head of
//     Deidentifier.cpp): X/Z -> zero length (on a sequence: no items where
//     the sequence is Type 2, else removed), anything offering D -> a dummy
//     of the VR (an empty value stays empty), X/Z/U* -> every UID inside
//     replaced;
//   - private elements and private creators go, except the tags listed as
//     safe; curve groups (50xx) and overlay groups (60xx) go whole;
//   - every UID that is not a well-known one (the standard's own,
//     1.2.840.10008.*, and the SOP class / transfer syntax / coding scheme
//     kind of attributes) becomes the keyed hash of KeyedHash::uid, also where
//     the table does not list the attribute, so references stay consistent;
//   - PatientID and PatientName become the keyed pseudonym;
//   - marking: PatientIdentityRemoved, DeidentificationMethod(+CodeSequence),
//     LongitudinalTemporalInformationModified;
//   - an instance that may carry text in its pixels is refused (Marking.h).
// Pixel data is never touched.
//
// A Deidentifier is immutable after construction; apply() is const and keeps
// its state on the stack: one Deidentifier is safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/core/Error.h"
#include "plugins/core/deid/KeyedHash.h"
#include "plugins/core/deid/ProfileTable.h"

class DcmDataset;
class DcmFileFormat;
class DcmMetaInfo;

namespace router::deid {

// A private tag to keep: (group, creator, element) names (gggg,xxEE) where the
// block xx is whatever block the file reserved for creator in that group.
struct SafePrivateTag {
  std::uint16_t group = 0;   // odd
  std::string creator;       // the private creator's value, e.g. "SIEMENS CSA HEADER"
  std::uint8_t element = 0;  // EE, the low byte of the element number
};

// Where patient pseudonyms come from instead of the keyed hash: a mapping
// table (the queue database's, PseudonymQueue) that assigns one on a
// patient's first instance and gives the same one ever after. Must be safe
// to call from any thread.
class PseudonymSource {
 public:
  virtual ~PseudonymSource() = default;
  // patientKey: what identifies the patient (the PatientID, or what stands
  // in for it, see DeidResult); id and name as found.
  virtual std::string pseudonymFor(const std::string& project, const std::string& patientKey,
                                   const std::string& patientId, const std::string& patientName) = 0;
};

struct DeidOptions {
  ProfileOptions options;  // RetainLongitudinalFullDates and ...ModifiedDates exclude each other
  std::string project;     // part of every keyed hash: one project, one mapping
  std::string key;         // secret bytes, at least KeyedHash::kMinimumKeyBytes
  std::vector<SafePrivateTag> safePrivateTags;  // Retain Safe Private, when not empty
  bool refuseBurnedIn = true;                   // see Marking.h
  // The modalities presumed to burn text in when BurnedInAnnotation is
  // absent; nullopt: burnedInModalities() (Marking.h).
  std::optional<std::vector<std::string>> burnedInModalities;
  std::string uidRoot;  // empty: 2.25.<UUID> (KeyedHash::uid)
  // Not owned; nullptr: pseudonyms are KeyedHash::pseudonym.
  PseudonymSource* pseudonyms = nullptr;
};

// What a de-identification changed that a re-identification table needs.
struct DeidResult {
  std::map<std::string, std::string> uids;  // original UID -> its replacement
  std::string originalPatientId;            // as found (trimmed), "" if none
  std::string originalPatientName;
  std::string patientKey;  // what the pseudonym derives from: the PatientID, else "name:...|birth" or "study:UID"
  std::string pseudonym;  // the PatientID and PatientName written
  int dateShiftDays = 0;  // days dates were moved back (modified-dates option), else 0
};

// The instance must not leave de-identified this way; what() says why and what
// to do. A RouterError, so the router's error handling takes it as such.
class DeidentificationRefused : public RouterError {
 public:
  using RouterError::RouterError;
};

class Deidentifier {
 public:
  // Throws ConfigError for an empty project, a short key, both date options,
  // or a safe private tag in an even group.
  explicit Deidentifier(DeidOptions options);

  // De-identifies dataset in place. Throws DeidentificationRefused (burned-in
  // pixels) before changing anything, RouterError if DCMTK refuses a value.
  DeidResult apply(DcmDataset& dataset) const;

  // The same, plus the file meta header: MediaStorageSOPInstanceUID follows
  // the new SOPInstanceUID; source/sending/receiving AE titles go (unless
  // Retain Device Identity), and so does the meta's private information.
  DeidResult apply(DcmFileFormat& file) const;

  const DeidOptions& options() const { return options_; }
  const KeyedHash& hash() const { return hash_; }

  // The DeidentificationMethod text (one LO value each, <= 64 characters).
  std::vector<std::string> methodDescription() const;

 private:
  DeidOptions options_;
  KeyedHash hash_;
};

// Part-10 bytes in, Part-10 bytes out (same transfer syntax). Throws
// RouterError for unreadable input, DeidentificationRefused as apply().
struct DeidentifiedFile {
  std::string part10;
  DeidResult result;
};
DeidentifiedFile deidentifyPart10(const std::string& part10, const Deidentifier& deidentifier);

// The action one row takes under a set of options, before the VR-dependent
// resolution of compound codes: an option column that says K wins over one
// that says C, and either over the Basic Profile; for date and time values
// (isTemporal) the two date options decide alone, since a date kept by
// another option next to shifted ones would give the shift away.
Code effectiveCode(const ProfileRow& row, const ProfileOptions& options, bool isTemporal);

}  // namespace router::deid
