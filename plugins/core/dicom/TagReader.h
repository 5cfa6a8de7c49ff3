// Reads DICOM Part-10 bytes (DCMTK) into what the rules see: the top-level
// elements as strings by tag and keyword, sequences and binary values left out.
// UIDs come without their NUL or space padding, also when the file encodes
// them with another VR (see Uid.h); text values without trailing padding.
// Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "plugins/core/model/Instance.h"

namespace router {

// Throws RouterError when the bytes are not a readable DICOM file.
InstanceView readInstanceView(const std::string& part10);

struct DicomIdentity {
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntax;
};

// Only what a sender needs to know. Throws RouterError.
DicomIdentity readIdentity(std::string_view part10);

}  // namespace router
