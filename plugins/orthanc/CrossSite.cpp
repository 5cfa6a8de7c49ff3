#include "plugins/orthanc/CrossSite.h"

#include <algorithm>
#include <cctype>

namespace router::orthanc {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "http://Host:8042" -> "host:8042"; "" when it is not scheme://authority
// (the opaque origin "null" of sandboxed frames and file: pages included).
std::string originAuthority(const std::string& origin) {
  const size_t scheme = origin.find("://");
  if (scheme == std::string::npos || scheme == 0) return {};
  std::string authority = origin.substr(scheme + 3);
  if (authority.empty() || authority.find('/') != std::string::npos) return {};
  return lower(authority);
}

// Host without the default port of the origin's scheme, so that
// "https://x" matches "Host: x:443" and "http://x" matches "Host: x:80".
std::string withoutDefaultPort(const std::string& authority, const std::string& origin) {
  const std::string port = lower(origin).rfind("https://", 0) == 0 ? ":443" : ":80";
  if (authority.size() > port.size() &&
      authority.compare(authority.size() - port.size(), port.size(), port) == 0) {
    return authority.substr(0, authority.size() - port.size());
  }
  return authority;
}

}  // namespace

std::optional<std::string> crossSiteRefusal(const RequestOrigin& request) {
  if (request.consoleHeader.empty()) {
    return std::string("refused: a request that changes something must carry the header ") +
           kConsoleHeader +
           ": 1 (the console sends it; so must scripts and curl), so that a page on another site "
           "cannot "
           "make a browser send it";
  }
  if (!request.origin.empty()) {
    const std::string authority = originAuthority(request.origin);
    const std::string host = lower(request.host);
    if (authority.empty() || host.empty() ||
        withoutDefaultPort(authority, request.origin) != withoutDefaultPort(host, request.origin)) {
      return "refused: cross-site request (Origin " + request.origin + " is not this server, " +
             (request.host.empty() ? std::string("no Host") : "Host " + request.host) + ")";
    }
  }
  if (!request.fetchSite.empty()) {
    const std::string site = lower(request.fetchSite);
    if (site != "same-origin" && site != "none") {
      return "refused: cross-site request (Sec-Fetch-Site: " + request.fetchSite + ")";
    }
  }
  return std::nullopt;
}

}  // namespace router::orthanc
