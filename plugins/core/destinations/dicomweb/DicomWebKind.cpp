#include "plugins/core/destinations/dicomweb/DicomWebKind.h"

#include "plugins/core/destinations/dicomweb/DicomWebDestination.h"

namespace router {
namespace {

class DicomWebKind final : public DestinationKind {
 public:
  std::string name() const override { return "dicomweb"; }
  std::set<std::string> keys() const override {
    std::set<std::string> keys = httpEndpointKeys();
    keys.insert("BatchSize");
    return keys;
  }
  std::shared_ptr<const DestinationSettings> parse(const ConfigSection& s, const std::string& baseDir) const override {
    auto d = std::make_shared<DicomWebSettings>();
    d->endpoint = parseHttpEndpoint(s, baseDir);
    d->batchSize = s.integer("BatchSize", 10, 1, 1000);
    return d;
  }
};

}  // namespace

std::unique_ptr<Destination> DicomWebSettings::make(const DestinationConfig& config,
                                                    const DestinationContext&) const {
  return std::make_unique<DicomWebDestination>(config);
}

const DestinationKind& dicomWebKind() {
  static const DicomWebKind kind;
  return kind;
}

}  // namespace router
