// The "dicomweb" destination kind: STOW-RS to a DICOMweb server
// (DicomWebDestination).
#pragma once

#include "plugins/core/destinations/DestinationKind.h"
#include "plugins/core/destinations/http/HttpEndpoint.h"

namespace router {

struct DicomWebSettings final : DestinationSettings {
  HttpEndpoint endpoint;  // url: the DICOMweb root, e.g. http://host:8042/dicom-web
  int batchSize = 10;     // instances per STOW-RS request

  std::string kind() const override { return "dicomweb"; }
  std::unique_ptr<Destination> make(const DestinationConfig& config,
                                    const DestinationContext& context) const override;
  StatusFields status() const override { return endpoint.status(); }
};

const DestinationKind& dicomWebKind();

}  // namespace router
