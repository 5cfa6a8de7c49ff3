// The "folder" destination kind: one file per instance in a folder
// (FolderDestination).
#pragma once

#include "plugins/core/destinations/DestinationKind.h"

namespace router {

struct FolderSettings final : DestinationSettings {
  std::string path;

  std::string kind() const override { return "folder"; }
  std::unique_ptr<Destination> make(const DestinationConfig& config,
                                    const DestinationContext& context) const override;
  StatusFields status() const override { return {{"Path", path}}; }
};

const DestinationKind& folderKind();

}  // namespace router
