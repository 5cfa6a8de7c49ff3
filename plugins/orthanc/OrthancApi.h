// Small RAII helpers over Orthanc's C SDK shared by the adapter files: the
// only place besides the adapter sources that includes OrthancCPlugin.h.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <json/value.h>

#include <string>

#include "plugins/core/Log.h"

namespace router::orthanc {

// Owns an OrthancPluginMemoryBuffer.
class MemoryBuffer {
 public:
  explicit MemoryBuffer(OrthancPluginContext* context) : context_(context) {
    buffer_.data = nullptr;
    buffer_.size = 0;
  }
  ~MemoryBuffer() {
    if (buffer_.data != nullptr) OrthancPluginFreeMemoryBuffer(context_, &buffer_);
  }
  MemoryBuffer(const MemoryBuffer&) = delete;
  MemoryBuffer& operator=(const MemoryBuffer&) = delete;
  OrthancPluginMemoryBuffer* get() { return &buffer_; }
  std::string str() const { return std::string(static_cast<const char*>(buffer_.data), buffer_.size); }

 private:
  OrthancPluginContext* context_;
  OrthancPluginMemoryBuffer buffer_;
};

// Owns a char* returned by the SDK.
class OrthancString {
 public:
  OrthancString(OrthancPluginContext* context, char* value) : context_(context), value_(value) {}
  ~OrthancString() {
    if (value_ != nullptr) OrthancPluginFreeString(context_, value_);
  }
  OrthancString(const OrthancString&) = delete;
  OrthancString& operator=(const OrthancString&) = delete;
  std::string str() const { return value_ ? std::string(value_) : std::string(); }

 private:
  OrthancPluginContext* context_;
  char* value_;
};

// Orthanc's log, usable from any thread.
class OrthancLog : public Log {
 public:
  explicit OrthancLog(OrthancPluginContext* context) : context_(context) {}
  void info(const std::string& message) override { OrthancPluginLogInfo(context_, ("router: " + message).c_str()); }
  void warning(const std::string& message) override {
    OrthancPluginLogWarning(context_, ("router: " + message).c_str());
  }
  void error(const std::string& message) override { OrthancPluginLogError(context_, ("router: " + message).c_str()); }
  // The REST call (RestApi.cpp) that does it.
  std::string howTo(OperatorAction action, int64_t jobId) const override;

 private:
  OrthancPluginContext* context_;
};

Json::Value parseJson(const std::string& text);
std::string writeJson(const Json::Value& value);

}  // namespace router::orthanc
