// Applies a route's tag edits ("modify" in the rules) to a DICOM file.
// Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>

#include <dcmtk/dcmdata/dctagkey.h>

#include "plugins/core/model/Route.h"

namespace router {

// "PatientID" or "0010,0020" -> tag; nullopt when neither a known keyword nor
// a well-formed "GGGG,EEEE".
std::optional<DcmTagKey> parseTagName(const std::string& keywordOrNumber);

// Returns the file with every edit applied (value set, or element removed for
// std::nullopt), same transfer syntax. Throws RouterError naming the tag when
// an edit cannot be applied (unknown keyword, value invalid for its VR).
std::string applyTagEdits(const std::string& part10, const TagEdits& edits);

}  // namespace router
