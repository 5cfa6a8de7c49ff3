#include "plugins/core/ConfigSection.h"

#include "plugins/core/Error.h"

namespace router {

ConfigSection::ConfigSection(const Json::Value& value, std::string path, const std::set<std::string>& known)
    : value_(value), path_(std::move(path)) {
  if (!value_.isObject()) fail(path_, "must be a JSON object");
  for (const std::string& key : value_.getMemberNames()) {
    if (known.count(key)) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(path_ + "." + key, "unknown key (known keys: " + list + ")");
  }
}

void ConfigSection::fail(const std::string& key, const std::string& problem) {
  throw ConfigError("configuration error: " + key + ": " + problem);
}

std::string ConfigSection::string(const std::string& name, const std::string& fallback, bool required) const {
  if (!has(name)) {
    if (required) fail(key(name), "missing");
    return fallback;
  }
  const Json::Value& v = value_[name];
  if (!v.isString()) fail(key(name), "must be a string");
  if (required && v.asString().empty()) fail(key(name), "must not be empty");
  return v.asString();
}

int ConfigSection::integer(const std::string& name, int fallback, int min, int max, bool required) const {
  if (!has(name)) {
    if (required) fail(key(name), "missing");
    return fallback;
  }
  const Json::Value& v = value_[name];
  if (!v.isInt()) fail(key(name), "must be an integer");
  int n = v.asInt();
  if (n < min || n > max) {
    fail(key(name), "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

double ConfigSection::number(const std::string& name, double fallback, double min, double max) const {
  if (!has(name)) return fallback;
  const Json::Value& v = value_[name];
  if (!v.isNumeric()) fail(key(name), "must be a number");
  double d = v.asDouble();
  if (!(d >= min && d <= max)) {
    fail(key(name), "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return d;
}

bool ConfigSection::boolean(const std::string& name, bool fallback) const {
  if (!has(name)) return fallback;
  if (!value_[name].isBool()) fail(key(name), "must be true or false");
  return value_[name].asBool();
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
  if (path.empty() || path[0] == '/' || baseDir.empty()) return path;
  return baseDir + "/" + path;
}

}  // namespace router
