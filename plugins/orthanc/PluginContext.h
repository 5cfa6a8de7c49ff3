// What the C callbacks reach: the Orthanc context, the log, the store and the
// Router. Exactly one exists, created in OrthancPluginInitialize and
// destroyed in OrthancPluginFinalize; the C ABI gives callbacks no user
// pointer, so Plugin.cpp keeps it behind one accessor.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <memory>

#include "plugins/core/Router.h"
#include "plugins/orthanc/OrthancApi.h"
#include "plugins/orthanc/OrthancCommitmentReports.h"
#include "plugins/orthanc/OrthancStore.h"

namespace router::orthanc {

struct PluginContext {
  explicit PluginContext(OrthancPluginContext* c) : orthanc(c), log(c), store(c), commitments(c) {}
  OrthancPluginContext* orthanc;
  OrthancLog log;
  OrthancStore store;
  OrthancCommitmentReports commitments;
  std::unique_ptr<Router> router;
};

// The plugin's context; only valid between Initialize and Finalize.
PluginContext& plugin();

// Registers every /router/... route.
void registerRestRoutes(OrthancPluginContext* context);

}  // namespace router::orthanc
