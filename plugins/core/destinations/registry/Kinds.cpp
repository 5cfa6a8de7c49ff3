// A new kind is one line in destinationKinds() (and its include).
#include "plugins/core/destinations/registry/Kinds.h"

#include "plugins/core/destinations/dicom/DicomKind.h"
#include "plugins/core/destinations/dicomweb/DicomWebKind.h"
#include "plugins/core/destinations/folder/FolderKind.h"
#include "plugins/core/destinations/orthancpeer/OrthancPeerKind.h"

namespace router {

const std::vector<const DestinationKind*>& destinationKinds() {
  static const std::vector<const DestinationKind*> kinds = {
      &dicomKind(),
      &dicomWebKind(),
      &orthancPeerKind(),
      &folderKind(),
  };
  return kinds;
}

const DestinationKind* findDestinationKind(const std::string& name) {
  for (const DestinationKind* kind : destinationKinds()) {
    if (kind->name() == name) return kind;
  }
  return nullptr;
}

std::string destinationKindList() {
  const auto& kinds = destinationKinds();
  std::string list;
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) list += i + 1 == kinds.size() ? " or " : ", ";
    list += kinds[i]->name();
  }
  return list;
}

std::unique_ptr<Destination> makeDestination(const DestinationConfig& config, const DestinationContext& context) {
  if (!config.settings) throw RouterError("destination " + config.name + ": no settings (no \"Type\")");
  return config.settings->make(config, context);
}

}  // namespace router
