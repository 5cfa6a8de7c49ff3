// The wall between Orthanc's C ABI and C++: every callback goes through one
// of these trampolines. They catch everything, log one line and return an
// OrthancPluginErrorCode; no exception ever crosses into Orthanc.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <exception>
#include <string>

#include "plugins/orthanc/PluginContext.h"

namespace router::orthanc {

template <typename Function>
OrthancPluginErrorCode protect(const char* where, Function&& function) noexcept {
  try {
    function();
    return OrthancPluginErrorCode_Success;
  } catch (const std::exception& e) {
    try {
      plugin().log.error(std::string(where) + ": " + e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      plugin().log.error(std::string(where) + ": unknown exception");
    } catch (...) {
    }
  }
  return OrthancPluginErrorCode_Plugin;
}

}  // namespace router::orthanc
