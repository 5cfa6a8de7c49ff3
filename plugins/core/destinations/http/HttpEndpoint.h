// The keys the HTTP destination kinds (dicomweb, orthanc) share: where the
// server is and how to authenticate to it.
#pragma once

#include <set>
#include <string>

#include "plugins/core/ConfigSection.h"
#include "plugins/core/destinations/http/HttpClient.h"

namespace router {

struct HttpEndpoint {
  std::string url;      // without a trailing '/'
  HttpOptions options;  // user, password, extra headers, timeout
};

// Url, Username, Password, Headers, Timeout.
std::set<std::string> httpEndpointKeys();
// Throws ConfigError naming the key.
HttpEndpoint parseHttpEndpoint(const ConfigSection& section);

}  // namespace router
