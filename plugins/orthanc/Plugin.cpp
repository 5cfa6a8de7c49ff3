// The four entry points Orthanc calls, and the callback trampolines (changes,
// stored instances, the HTTP filter, Orthanc's transcoding). The
// Router is built here from the validated configuration; a configuration
// error refuses the plugin (and so Orthanc's start) with one clear line.
#include <orthanc/OrthancCPlugin.h>

#include <dlfcn.h>
#include <strings.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/core/config/Config.h"
#include "plugins/core/metrics/MetricsAccess.h"
#include "plugins/orthanc/OrthancApi.h"
#include "plugins/orthanc/PluginContext.h"
#include "plugins/orthanc/Protect.h"

#define ROUTER_EXPORT extern "C" __attribute__((visibility("default")))

namespace router::orthanc {
namespace {

// The C ABI passes no user data to callbacks: this is the one place that
// holds the plugin's state, from Initialize to Finalize.
std::unique_ptr<PluginContext>& slot() {
  static std::unique_ptr<PluginContext> context;
  return context;
}

OrthancPluginErrorCode onChange(OrthancPluginChangeType changeType, OrthancPluginResourceType,
                                const char* resourceId) noexcept {
  return protect("change callback", [&] {
    Router* router = plugin().router.get();
    if (router == nullptr) return;
    switch (changeType) {
      case OrthancPluginChangeType_NewInstance:
        router->onNewInstance(resourceId ? resourceId : "");  // wakes the intake thread: nothing slow here
        break;
      case OrthancPluginChangeType_OrthancStarted:
        router->start();
        break;
      case OrthancPluginChangeType_OrthancStopped:
        plugin().commitments.stop();  // ends storage commitment waits first
        router->stop();
        break;
      default:
        break;
    }
  });
}

// Runs on the thread that answers the C-STORE, under Orthanc's lock of
// stored-instance callbacks: one bounded copy into the cache, nothing else.
OrthancPluginErrorCode onStoredInstance(const OrthancPluginDicomInstance* instance, const char* instanceId) noexcept {
  return protect("stored-instance callback", [&] {
    Router* router = plugin().router.get();
    if (router == nullptr || instanceId == nullptr) return;
    auto metadata = [&](const char* name) -> std::string {
      if (OrthancPluginHasInstanceMetadata(plugin().orthanc, instance, name) != 1) return "";
      const char* value = OrthancPluginGetInstanceMetadata(plugin().orthanc, instance, name);
      return value ? value : "";
    };
    Origin origin{metadata("RemoteAET"), metadata("CalledAET"), metadata("RemoteIP"), metadata("Origin")};
    const void* data = OrthancPluginGetInstanceData(plugin().orthanc, instance);
    int64_t size = OrthancPluginGetInstanceSize(plugin().orthanc, instance);
    if (data != nullptr && size > 0) {
      router->onStored(instanceId, static_cast<const char*>(data), static_cast<size_t>(size), origin);
    }
  });
}

int32_t filterHttp(OrthancPluginHttpMethod method, const char* uri, const char*, uint32_t headersCount,
                   const char* const* headersKeys, const char* const* headersValues, uint32_t,
                   const char* const*, const char* const*) noexcept {
  try {
    Router* router = plugin().router.get();
    if (router == nullptr || router->config().metricsUser.empty()) return 1;
    std::string authorization;
    for (uint32_t i = 0; i < headersCount; ++i) {
      if (strcasecmp(headersKeys[i], "authorization") == 0) authorization = headersValues[i];
    }
    return metricsUserMayAccess(router->config().metricsUser, authorization, method == OrthancPluginHttpMethod_Get,
                                uri)
               ? 1
               : 0;
  } catch (...) {
    return 0;  // when in doubt, refuse
  }
}

// Orthanc's own transcoding, offered to the router's workers first; a
// conversion they do not make is left to Orthanc's built-in transcoder
// ("BuiltinDecoderTranscoderOrder": "After", Orthanc's default).
OrthancPluginErrorCode transcode(OrthancPluginMemoryBuffer* transcoded, const void* buffer, uint64_t size,
                                 const char* const* allowedSyntaxes, uint32_t countSyntaxes,
                                 uint8_t allowNewSopInstanceUid) noexcept {
  bool converted = false;
  const OrthancPluginErrorCode code = protect("transcoder callback", [&] {
    Router* router = plugin().router.get();
    if (router == nullptr || buffer == nullptr || router->state() != RunState::Running) return;
    std::vector<std::string> allowed;
    for (uint32_t i = 0; i < countSyntaxes; ++i) {
      if (allowedSyntaxes[i] != nullptr) allowed.emplace_back(allowedSyntaxes[i]);
    }
    std::optional<std::string> out = router->hostTranscoding().convert(
        std::string_view(static_cast<const char*>(buffer), static_cast<size_t>(size)), allowed,
        allowNewSopInstanceUid != 0);
    if (!out || out->size() > UINT32_MAX) return;
    if (OrthancPluginCreateMemoryBuffer(plugin().orthanc, transcoded, static_cast<uint32_t>(out->size())) !=
        OrthancPluginErrorCode_Success) {
      return;
    }
    std::memcpy(transcoded->data, out->data(), out->size());
    converted = true;
  });
  if (code != OrthancPluginErrorCode_Success) return code;
  return converted ? OrthancPluginErrorCode_Success : OrthancPluginErrorCode_NotImplemented;
}

Config readConfig(OrthancPluginContext* context) {
  OrthancString text(context, OrthancPluginGetConfiguration(context));
  OrthancString path(context, OrthancPluginGetConfigurationPath(context));
  std::string baseDir;
  if (!path.str().empty()) {
    std::filesystem::path p(path.str());
    baseDir = (std::filesystem::is_directory(p) ? p : p.parent_path()).string();
  }
  Config config = parseConfig(parseJson(text.str()), baseDir);
  if (config.transcoding.workerExecutable.empty()) {
    // The worker is installed beside the plugin (the package and the build
    // tree both put it there).
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&readConfig), &self) != 0 && self.dli_fname != nullptr) {
      config.transcoding.workerExecutable =
          (std::filesystem::path(self.dli_fname).parent_path() / "orthanc-router-transcoder").string();
    }
  }
  return config;
}

}  // namespace

PluginContext& plugin() { return *slot(); }

}  // namespace router::orthanc

using router::orthanc::plugin;
using router::orthanc::slot;

ROUTER_EXPORT int32_t OrthancPluginInitialize(OrthancPluginContext* context) {
  if (!OrthancPluginCheckVersion(context)) {
    OrthancPluginLogError(context, "router: this Orthanc is too old for the router plugin (needs 1.10.1 or later)");
    return -1;
  }
  OrthancPluginSetDescription(context, "DICOM router: Lua rules, transcoding, durable delivery queues");
  slot() = std::make_unique<router::orthanc::PluginContext>(context);
  // DCMTK 3.6.7 disables Nagle only when this variable is set. The router's
  // own associations set TCP_NODELAY on their sockets themselves; this is for
  // Orthanc's DICOM server, whose C-STORE answers otherwise wait for delayed
  // ACKs: 300 CT slices on one association took 8.4x as long to ingest
  // (e2e_bench scenario f against a). Set before any thread of ours exists.
  setenv("TCP_NODELAY", "1", 0);
  try {
    plugin().router = std::make_unique<router::Router>(router::orthanc::readConfig(context), plugin().store,
                                                       plugin().log, &plugin().commitments);
  } catch (const std::exception& e) {
    plugin().log.error(e.what());
  } catch (...) {
    plugin().log.error("unknown error while starting");
  }
  if (!plugin().router) {
    OrthancPluginLogError(context, "router: plugin not started; fix the configuration above and restart Orthanc");
    slot().reset();
    return -1;
  }
  OrthancPluginRegisterOnChangeCallback(context, router::orthanc::onChange);
  OrthancPluginRegisterOnStoredInstanceCallback(context, router::orthanc::onStoredInstance);
  router::orthanc::registerRestRoutes(context);
  OrthancPluginRegisterIncomingHttpRequestFilter2(context, router::orthanc::filterHttp);
  if (plugin().router->config().transcoding.forOrthanc) {
    OrthancPluginRegisterTranscoderCallback(context, router::orthanc::transcode);
  }
  return 0;
}

ROUTER_EXPORT void OrthancPluginFinalize() {
  if (slot()) {
    plugin().commitments.stop();
    if (plugin().router) plugin().router->stop();
    slot().reset();
  }
}

ROUTER_EXPORT const char* OrthancPluginGetName() { return "router"; }

ROUTER_EXPORT const char* OrthancPluginGetVersion() { return ROUTER_VERSION; }
