// The "orthanc" destination kind: POST /instances to another Orthanc
// (OrthancPeerDestination).
#pragma once

#include "plugins/core/destinations/DestinationKind.h"
#include "plugins/core/destinations/http/HttpEndpoint.h"

namespace router {

struct OrthancPeerSettings final : DestinationSettings {
  HttpEndpoint endpoint;  // url: the peer's REST root, e.g. http://host:8042

  std::string kind() const override { return "orthanc"; }
  std::unique_ptr<Destination> make(const DestinationConfig& config,
                                    const DestinationContext& context) const override;
  StatusFields status() const override { return endpoint.status(); }
};

const DestinationKind& orthancPeerKind();

}  // namespace router
