// The core's view of Orthanc: its changes log, its stored files and their
// metadata. The plugin implements it with Orthanc's REST API
// (plugins/orthanc/OrthancStore); tests implement it with files.
//
// Thread safety: implementations must allow concurrent calls from all workers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugins/core/Error.h"
#include "plugins/core/model/Instance.h"
#include "plugins/core/queue/Queue.h"

namespace router {

// The instance is no longer in Orthanc (deleted): waiting will not help.
class InstanceGoneError : public RouterError {
 public:
  using RouterError::RouterError;
};

struct ChangeBatch {
  std::vector<Change> newInstances;  // NewInstance changes only
  int64_t last = 0;                  // last sequence number covered by this batch
  bool done = true;                  // no more changes after `last` for now
  std::vector<int64_t> seqs;         // every change's sequence number, of any type
};

class InstanceStore {
 public:
  virtual ~InstanceStore() = default;
  // Changes with sequence > since, at most limit of them, in sequence order.
  virtual ChangeBatch changesSince(int64_t since, int limit) = 0;
  // The sequence number of the newest change (0 when the log is empty).
  virtual int64_t lastChange() = 0;
  // The stored DICOM file. Throws InstanceGoneError or RouterError.
  virtual std::string readFile(const std::string& instanceId) = 0;
  // Where the instance came from (Orthanc's metadata).
  virtual Origin readOrigin(const std::string& instanceId) = 0;
  virtual void deleteInstance(const std::string& instanceId) = 0;
};

}  // namespace router
