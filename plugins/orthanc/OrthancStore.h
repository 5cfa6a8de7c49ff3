// The InstanceStore of the plugin: Orthanc's own REST API called in-process
// (no HTTP, no authentication involved). Safe from any thread.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include "plugins/core/intake/InstanceStore.h"

namespace router::orthanc {

class OrthancStore : public InstanceStore {
 public:
  explicit OrthancStore(OrthancPluginContext* context) : context_(context) {}
  ChangeBatch changesSince(int64_t since, int limit) override;
  int64_t lastChange() override;
  std::string readFile(const std::string& instanceId) override;
  Origin readOrigin(const std::string& instanceId) override;
  void deleteInstance(const std::string& instanceId) override;

 private:
  std::string get(const std::string& uri);
  OrthancPluginContext* context_;
};

}  // namespace router::orthanc
