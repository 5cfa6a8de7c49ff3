// Folder destination: each instance becomes <Path>/<SOPInstanceUID>.dcm,
// written atomically (temporary file in the same folder, fsync, rename, fsync
// of the folder) so a reader never sees a partial file under the final name.
//
// Thread safety: no mutable state; several objects (or threads) may write to
// the same folder at once (temporary names are unique per write).
#pragma once

#include <string>

#include "plugins/core/destinations/Destination.h"
#include "plugins/core/destinations/folder/FolderKind.h"

namespace router {

class FolderDestination : public Destination {
 public:
  explicit FolderDestination(const DestinationConfig& config);

  SendResult send(const Outgoing& instance) override;
  // True when the folder exists and is writable, or can be created.
  bool probe() override;

  const std::string& path() const { return path_; }

 private:
  void removeStaleTemporaries();
  std::string name_;
  std::string path_;
};

// A SOP Instance UID usable as a file name: dot-separated non-empty runs of
// digits, at most 64 characters (PS3.5 9.1). Anything else is refused.
bool isSafeUid(const std::string& uid);

}  // namespace router
