#include "plugins/core/metrics/MetricsAccess.h"

#include <cctype>
#include <cstdint>

namespace router {
namespace {
int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> decodeBase64(const std::string& text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = base64Value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> basicAuthUser(const std::string& authorization) {
  size_t start = 0;
  while (start < authorization.size() && std::isspace(static_cast<unsigned char>(authorization[start]))) ++start;
  if (authorization.size() - start < 6) return std::nullopt;
  std::string scheme = authorization.substr(start, 6);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic ") return std::nullopt;
  std::optional<std::string> decoded = decodeBase64(authorization.substr(start + 6));
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return decoded->substr(0, colon);
}

bool metricsUserMayAccess(const std::string& metricsUser, const std::string& authorization, bool isGet,
                          const std::string& uri) {
  if (metricsUser.empty()) return true;
  std::optional<std::string> user = basicAuthUser(authorization);
  if (!user || *user != metricsUser) return true;  // other users: Orthanc's own rules apply
  std::string path = uri.substr(0, uri.find('?'));
  return isGet && path == "/router/metrics";
}

}  // namespace router
