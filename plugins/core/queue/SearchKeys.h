// What the queue keeps to find an instance's jobs by patient, accession or
// study: never the values themselves, only a hash of each (SHA-256 of the
// attribute's keyword and its trimmed value, 32 hex digits). A search hashes
// what was typed the same way. Only an exact value finds anything.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/core/model/Instance.h"

namespace router {

// The attributes a search looks in (besides the SOP Instance UID, which jobs carry).
inline constexpr std::array<const char*, 3> kSearchAttributes = {"PatientID", "AccessionNumber", "StudyInstanceUID"};

std::string searchKey(std::string_view keyword, std::string_view value);
// The keys an instance is found by (absent or empty attributes give none).
std::vector<std::string> searchKeysOf(const InstanceView& instance);
// The keys a search for text looks for: one per attribute.
std::array<std::string, kSearchAttributes.size()> searchKeysFor(std::string_view text);

}  // namespace router
