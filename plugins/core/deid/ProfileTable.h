// The attribute table of DICOM PS3.15 Annex E (Table E.1-1, "Application
// Level Confidentiality Profile Attributes"): for every attribute the action
// of the Basic Profile and its action under each option this code supports.
// The rows themselves are data, in ProfileTable.cpp; the rules that turn a
// row into what happens to an element are in Deidentifier.cpp.
// Immutable after first use (a function-local static); safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

namespace router::deid {

// An action code of Table E.1-1 (PS3.15 E.1.1 and the table's legend):
//   X remove; Z replace by zero length (or a dummy); D replace by a dummy of
//   the VR (never zero length); U replace the UID (consistently within the
//   set of instances); K keep; C clean (keep, after removing identifying
//   content); X/Z, X/D, Z/D, X/Z/D: the first unless the IOD's type needs one
//   of the others; X/Z/U*: remove, or empty, or replace every UID inside the
//   sequence. None: the column is blank for this row (the option does not
//   change the Basic Profile's action).
enum class Code : std::uint8_t { None, X, Z, D, U, K, C, XZ, XD, ZD, XZD, XZU };

// The standard's options (Table E.1-1's columns), as far as this code
// implements them. Retain Safe Private is not here: listing private tags as
// safe (DeidOptions::safePrivateTags) is that option. Clean Pixel Data and
// Clean Recognizable Visual Features are not implemented.
enum class ProfileOption : std::uint8_t {
  RetainUids,
  RetainDeviceIdentity,
  RetainInstitutionIdentity,
  RetainPatientCharacteristics,
  RetainLongitudinalFullDates,
  RetainLongitudinalModifiedDates,
  CleanDescriptors,
  CleanStructuredContent,
  CleanGraphics,
};
constexpr std::size_t kOptionCount = 9;
using ProfileOptions = std::set<ProfileOption>;

// One row of Table E.1-1 for a single tag. option[] is indexed by
// ProfileOption.
struct ProfileRow {
  std::uint16_t group;
  std::uint16_t element;
  Code basic;
  Code option[kOptionCount];
  const char* name;  // as the standard names the attribute
};

// Every single-tag row, sorted by tag. The four pattern rows of the standard
// (Curve Data 50xx,xxxx; Overlay Data 60xx,3000; Overlay Comments 60xx,4000;
// private attributes gggg,eeee with gggg odd) are rules in Deidentifier.cpp.
const ProfileRow* profileRows(std::size_t& count);

// The row of a tag, or nullptr when the table does not list it.
const ProfileRow* findProfileRow(std::uint16_t group, std::uint16_t element);

// The edition of PS3.15 the rows were written from.
constexpr const char* kProfileEdition = "PS3.15 2024b";

// What an option is called: in the standard (the code meaning of CID 7050),
// as a keyword (for configuration), and its code in CID 7050 (scheme DCM).
struct OptionNames {
  ProfileOption option;
  const char* keyword;  // "RetainDeviceIdentity"
  const char* meaning;  // "Retain Device Identity Option"
  const char* code;     // "113109"
};
const OptionNames& optionNames(ProfileOption option);
std::optional<ProfileOption> parseProfileOption(std::string_view keyword);

// The code of the Basic Profile itself and of the Retain Safe Private option.
constexpr const char* kBasicProfileCode = "113100";
constexpr const char* kBasicProfileMeaning = "Basic Application Confidentiality Profile";
constexpr const char* kRetainSafePrivateCode = "113111";
constexpr const char* kRetainSafePrivateMeaning = "Retain Safe Private Option";

}  // namespace router::deid
