#include "plugins/core/destinations/http/HttpEndpoint.h"

namespace router {

std::set<std::string> httpEndpointKeys() { return {"Url", "Username", "Password", "Headers", "Timeout", "Tls"}; }

StatusFields HttpEndpoint::status() const {
  StatusFields fields = {{"Url", url}};
  if (url.rfind("https://", 0) == 0) fields.push_back({"Tls", options.tls.summary()});
  return fields;
}

HttpEndpoint parseHttpEndpoint(const ConfigSection& s, const std::string& baseDir) {
  HttpEndpoint e;
  e.url = s.string("Url", "", true);
  if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0) {
    ConfigSection::fail(s.key("Url"), "must start with http:// or https://");
  }
  while (!e.url.empty() && e.url.back() == '/') e.url.pop_back();
  e.options.username = s.string("Username", "");
  e.options.password = s.string("Password", "");
  e.options.timeout = std::chrono::seconds(s.integer("Timeout", 60, 1, 3600));
  if (s.has("Headers")) {
    const Json::Value& headers = s.raw("Headers");
    if (!headers.isObject()) ConfigSection::fail(s.key("Headers"), "must be a JSON object: header name -> value");
    for (const std::string& header : headers.getMemberNames()) {
      if (!headers[header].isString()) ConfigSection::fail(s.key("Headers") + "." + header, "must be a string");
      e.options.headers[header] = headers[header].asString();
    }
  }
  e.options.tls.configKey = s.key("Tls");
  if (s.has("Tls")) {
    if (e.url.rfind("https://", 0) != 0) {
      ConfigSection::fail(s.key("Tls"), "is set but Url is not https:// (certificates are for HTTPS only)");
    }
    ConfigSection tls(s.raw("Tls"), s.key("Tls"), tlsKeys());
    e.options.tls = parseTls(tls, s.key("Tls"), baseDir);
  }
  return e;
}

}  // namespace router
