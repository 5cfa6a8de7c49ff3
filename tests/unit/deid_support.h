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
#include <string_view>
#include <vector>

#include "plugins/core/deid/Deidentifier.h"
#include "plugins/core/deid/ProfileTable.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"
#include "tests/generator/Identifying.h"
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

// The instance with every row comes from the generator (tests/generator/Identifying.h).
using testdata::childOf;
using testdata::childUidFor;
using testdata::hex;
using testdata::insertEveryRow;
using testdata::insertPrivateAndRepeating;
using testdata::insertRow;
using testdata::isRowInDataset;
using testdata::valueFor;
using testdata::vrOf;
static_assert(std::string_view(testdata::kIdentifyingRoot) == std::string_view(kRoot));

inline std::string label(const ProfileRow& row, int depth) {
  return "(" + hex(row).substr(0, 4) + "," + hex(row).substr(4) + ") " + row.name + " at depth " +
         std::to_string(depth);
}

// The CT of the generator, plus every row at depth 0, 1 (in Referenced Series
// Sequence) and 2 (in its Referenced SOP Sequence): neither sequence is in
// the table, so their items get no treatment of their own.
inline std::string instanceWithEveryRow(testdata::ImageSpec spec = {}) {
  spec.patientId = kPatientId;
  spec.patientName = "Doe^Jane";
  return testdata::instanceWithEveryRow(spec);
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
