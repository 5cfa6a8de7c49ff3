// The keyed replacements of de-identification: UIDs, patient pseudonyms and
// per-patient date shifts, each an HMAC-SHA256 (OpenSSL's libcrypto) under the
// project's secret key of the project name and the original value. Equal
// inputs give equal outputs, in one instance, across instances and across
// runs; another project or key gives unrelated outputs; without the key the
// originals cannot be found from the replacements.
//
// Messages are "<kind> NUL <project> NUL <value>" with kind "uid", "patient"
// or "date-shift", so a UID and a patient ID that happen to be equal do not
// give related outputs.
//
// Immutable after construction; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace router::deid {

class KeyedHash {
 public:
  // Throws ConfigError when project or key is empty, the key is shorter
  // than kMinimumKeyBytes, or uidRoot is not a valid UID root (see uid()).
  KeyedHash(std::string project, std::string key, std::string uidRoot = "");

  static constexpr std::size_t kMinimumKeyBytes = 16;

  // "2.25.<decimal>": the first 128 bits of the HMAC, marked as an RFC 9562
  // version 8 (custom) UUID, as the decimal number PS3.5 B.2 puts after 2.25.
  // At most 44 characters. With a UID root (the organisation's own, at most
  // kMaximumRootLength characters): "<root>.<decimal>", the first 128 bits of
  // the HMAC made short enough (high bits kept) for the UID to fit 64
  // characters, without the UUID marking.
  std::string uid(std::string_view original) const;
  static constexpr std::size_t kMaximumRootLength = 32;
  // Empty when root is a valid UID root; else why not.
  static std::string checkUidRoot(const std::string& root);

  // "<PREFIX>-<16 base32 characters>" (80 bits of the HMAC, RFC 4648 alphabet):
  // PREFIX is the project name's letters and digits, upper case, at most 16
  // ("ANON" if it has none). Fits LO and PN.
  std::string pseudonym(std::string_view patient) const;

  // Days (1..3650) that the dates of this patient are moved back by under the
  // Retain Longitudinal Temporal Information Modified Dates option.
  int dateShiftDays(std::string_view patient) const;

  const std::string& project() const { return project_; }
  // The PREFIX of pseudonym() ("TRIAL1" for "trial-1").
  const std::string& prefix() const { return prefix_; }
  static std::string prefixOf(std::string_view project);

 private:
  std::array<std::uint8_t, 32> mac(std::string_view kind, std::string_view value) const;

  std::string project_;
  std::string key_;
  std::string prefix_;
  std::string uidRoot_;
};

}  // namespace router::deid
