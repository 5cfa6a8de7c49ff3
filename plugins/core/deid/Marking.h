// The two ends of a de-identification: before, the check that refuses
// instances whose pixels may show text; after, the attributes that say the
// instance was de-identified and how (PS3.15 E.1.1, PS3.3 C.7.1.1 and
// C.12.1, CID 7050). Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "plugins/core/deid/ProfileTable.h"

class DcmItem;

namespace router::deid {

// Modalities whose images carry burned-in text so often that an image
// without BurnedInAnnotation is presumed to carry it:
//   US  ultrasound scanners write the patient's name, ID and date into the image
//   IVUS intravascular ultrasound, the same consoles
//   ES  endoscopy video processors overlay name and date on the video
//   XC  external-camera photographs (faces, wristbands, labels)
//   GM  general microscopy, SM slide microscopy (slide labels in label and
//       overview images)
//   OT  "other": mostly screenshots and scanned paper
//   SC, DOC  secondary capture and documents: screenshots of consoles and
//       reports, scanned forms
// Secondary Capture SOP classes (1.2.840.10008.5.1.4.1.1.7 and .7.1-.7.4)
// count as SC whatever their Modality says.
const std::vector<std::string>& burnedInModalities();

// nullopt if the instance may be de-identified; otherwise the reason, in words
// for the person who routes it. Refused: pixel data or an encapsulated
// document with BurnedInAnnotation YES, or without BurnedInAnnotation (or
// with an empty or unknown value) when the modality or SOP class is one of
// burnedInModalities(). An instance without pixels and documents passes.
std::optional<std::string> burnedInRefusal(DcmItem& dataset);
// The same with another list of modalities presumed to burn text in (the
// Secondary Capture SOP classes and documents are presumed so whatever it says).
std::optional<std::string> burnedInRefusal(DcmItem& dataset, const std::vector<std::string>& modalities);

// Sets PatientIdentityRemoved YES, DeidentificationMethod (methodText, one
// value per entry), appends to DeidentificationMethodCodeSequence the CID 7050
// codes of the profile and of each option (codes already there are not
// repeated), and LongitudinalTemporalInformationModified (UNMODIFIED with full
// dates, MODIFIED with modified dates, otherwise REMOVED).
void markDeidentified(DcmItem& dataset, const ProfileOptions& options, bool retainSafePrivate,
                      const std::vector<std::string>& methodText);

}  // namespace router::deid
