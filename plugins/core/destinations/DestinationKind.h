// A destination kind: the keys it reads in Router.Destinations.<name>, how it
// parses them into its settings, and (through those settings) how its
// Destination objects are made. Each kind lives in its own folder here and
// is listed once in registry/Kinds.cpp: adding a kind is a new folder and
// one line there.
//
// Thread safety: kinds are stateless; any thread may use them.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "plugins/core/ConfigSection.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/DestinationConfig.h"

namespace router {

class DestinationKind {
 public:
  virtual ~DestinationKind() = default;
  // As written in "Type": "dicom", "dicomweb", "orthanc", "folder".
  virtual std::string name() const = 0;
  // The keys of this kind, beside those every destination has.
  virtual std::set<std::string> keys() const = 0;
  // Reads this kind's keys from the destination's section (whose other keys
  // are already checked); relative paths resolve against baseDir. Throws
  // ConfigError naming the key.
  virtual std::shared_ptr<const DestinationSettings> parse(const ConfigSection& section,
                                                           const std::string& baseDir) const = 0;
};

}  // namespace router
