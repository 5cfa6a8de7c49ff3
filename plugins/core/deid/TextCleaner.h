// The "C" (clean) action of Table E.1-1 for free text, as far as software can
// do it: the identifying values this instance itself carries (the patient's
// names and IDs, accession number, birth date, staff names, institution and
// station unless an option retains them, study dates unless dates are
// retained) are found in the text, case-insensitively and as whole words, and
// replaced by as many '*'. Text that names a person the instance does not
// name is not found: cleaning is best effort, and the README says so.
// Immutable after construction; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "plugins/core/deid/ProfileTable.h"

class DcmItem;

namespace router::deid {

class TextCleaner {
 public:
  // Collects the identifying values from the top level of dataset, before
  // anything is changed.
  TextCleaner(DcmItem& dataset, const ProfileOptions& options);

  std::string clean(const std::string& text) const;

  const std::vector<std::string>& identifiers() const { return identifiers_; }

 private:
  std::vector<std::string> identifiers_;  // upper case
};

}  // namespace router::deid
