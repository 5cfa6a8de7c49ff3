#include "plugins/core/destinations/folder/FolderKind.h"

#include "plugins/core/destinations/folder/FolderDestination.h"

namespace router {
namespace {

class FolderKind final : public DestinationKind {
 public:
  std::string name() const override { return "folder"; }
  std::set<std::string> keys() const override { return {"Path"}; }
  std::shared_ptr<const DestinationSettings> parse(const ConfigSection& s,
                                                   const std::string& baseDir) const override {
    auto d = std::make_shared<FolderSettings>();
    d->path = resolvePath(s.string("Path", "", true), baseDir);
    return d;
  }
};

}  // namespace

std::unique_ptr<Destination> FolderSettings::make(const DestinationConfig& config, const DestinationContext&) const {
  return std::make_unique<FolderDestination>(config);
}

const DestinationKind& folderKind() {
  static const FolderKind kind;
  return kind;
}

}  // namespace router
