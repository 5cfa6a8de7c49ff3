#include "plugins/core/destinations/orthancpeer/OrthancPeerKind.h"

#include "plugins/core/destinations/orthancpeer/OrthancPeerDestination.h"

namespace router {
namespace {

class OrthancPeerKind final : public DestinationKind {
 public:
  std::string name() const override { return "orthanc"; }
  std::set<std::string> keys() const override { return httpEndpointKeys(); }
  std::shared_ptr<const DestinationSettings> parse(const ConfigSection& s, const std::string& baseDir) const override {
    auto d = std::make_shared<OrthancPeerSettings>();
    d->endpoint = parseHttpEndpoint(s, baseDir);
    return d;
  }
};

}  // namespace

std::unique_ptr<Destination> OrthancPeerSettings::make(const DestinationConfig& config,
                                                       const DestinationContext&) const {
  return std::make_unique<OrthancPeerDestination>(config);
}

const DestinationKind& orthancPeerKind() {
  static const OrthancPeerKind kind;
  return kind;
}

}  // namespace router
