// ConfigSection: reads one JSON object of Orthanc's configuration file,
// remembering where it is ("Router.Destinations.pacs") so that every error
// names the key, and refusing keys it does not know (a typo in a hospital's
// configuration must not be silently ignored). Used by parseConfig() and by
// each destination kind for its own keys.
//
// Thread safety: a ConfigSection is used by one thread while parsing.
#pragma once

#include <set>
#include <string>

#include <json/value.h>

namespace router {

class ConfigSection {
 public:
  // Throws ConfigError unless value is an object whose keys are all known.
  ConfigSection(const Json::Value& value, std::string path, const std::set<std::string>& known);

  // Throws ConfigError("configuration error: <key>: <problem>").
  [[noreturn]] static void fail(const std::string& key, const std::string& problem);

  // The full name of one of this section's keys, for messages.
  std::string key(const std::string& name) const { return path_ + "." + name; }
  bool has(const std::string& name) const { return value_.isMember(name); }
  const Json::Value& raw(const std::string& name) const { return value_[name]; }

  // Each reader returns the fallback when the key is absent (or throws when
  // it is required), and throws naming the key when the value has the wrong
  // type or is out of range.
  std::string string(const std::string& name, const std::string& fallback, bool required = false) const;
  int integer(const std::string& name, int fallback, int min, int max, bool required = false) const;
  double number(const std::string& name, double fallback, double min, double max) const;
  bool boolean(const std::string& name, bool fallback) const;

 private:
  const Json::Value& value_;
  std::string path_;
};

// A path from the configuration, relative to the configuration file's folder
// unless it is absolute.
std::string resolvePath(const std::string& path, const std::string& baseDir);

}  // namespace router
