// The list of destination kinds, and the factory from a destination's
// configuration to its Destination object. The only place that knows every
// kind: the kinds depend on destinations/, and this on them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugins/core/destinations/DestinationKind.h"

namespace router {

// Every kind, in the order the documentation lists them.
const std::vector<const DestinationKind*>& destinationKinds();
// The kind of that name, or null.
const DestinationKind* findDestinationKind(const std::string& name);
// "dicom, dicomweb, orthanc or folder", for messages.
std::string destinationKindList();

// Makes the Destination object for a configured destination.
std::unique_ptr<Destination> makeDestination(const DestinationConfig& config,
                                             const DestinationContext& context = {});

}  // namespace router
