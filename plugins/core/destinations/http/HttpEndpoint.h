// The keys the HTTP destination kinds (dicomweb, orthanc) share: where the
// server is, how to authenticate to it, and its HTTPS certificates ("Tls",
// the keys every TLS destination shares, TlsSettings.h).
#pragma once

#include <set>
#include <string>

#include "plugins/core/ConfigSection.h"
#include "plugins/core/destinations/http/HttpClient.h"

namespace router {

struct HttpEndpoint {
  std::string url;      // without a trailing '/'
  HttpOptions options;  // user, password, extra headers, timeout, TLS

  // What GET /router/status shows: the Url, and for https:// how the server is checked.
  StatusFields status() const;
};

// Url, Username, Password, Headers, Timeout, Tls.
std::set<std::string> httpEndpointKeys();
// Throws ConfigError naming the key. Relative certificate paths resolve
// against baseDir.
HttpEndpoint parseHttpEndpoint(const ConfigSection& section, const std::string& baseDir);

}  // namespace router
