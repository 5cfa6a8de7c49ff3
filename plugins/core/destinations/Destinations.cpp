// makeDestination(): the factory from configuration to one Destination object.
#include "plugins/core/Error.h"
#include "plugins/core/destinations/DicomDestination.h"
#include "plugins/core/destinations/DicomWebDestination.h"
#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/FolderDestination.h"
#include "plugins/core/destinations/OrthancPeerDestination.h"
#include "plugins/core/destinations/StorageCommitment.h"

namespace router {

std::unique_ptr<Destination> makeDestination(const DestinationConfig& config, const std::string& localAet) {
  return makeDestination(config, localAet, nullptr);
}

std::unique_ptr<Destination> makeDestination(const DestinationConfig& config, const std::string& localAet,
                                             CommitmentReports* reports) {
  switch (config.type) {
    case DestinationType::Dicom:
      return std::make_unique<DicomDestination>(config, localAet, reports);
    case DestinationType::Folder:
      return std::make_unique<FolderDestination>(config);
    case DestinationType::DicomWeb:
      return std::make_unique<DicomWebDestination>(config);
    case DestinationType::OrthancPeer:
      return std::make_unique<OrthancPeerDestination>(config);
  }
  throw RouterError("destination " + config.name + ": unknown type");
}

}  // namespace router
