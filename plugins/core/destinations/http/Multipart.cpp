#include "plugins/core/destinations/http/Multipart.h"

#include <algorithm>
#include <cctype>

#include "plugins/core/Error.h"

namespace router {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::optional<std::string> multipartBoundary(std::string_view contentType) {
  const std::string type = lower(contentType);
  if (type.rfind("multipart/", 0) != 0) return std::nullopt;
  for (size_t at = type.find(';'); at != std::string::npos; at = type.find(';', at + 1)) {
    size_t name = at + 1;
    while (name < type.size() && type[name] == ' ') ++name;
    if (type.compare(name, 9, "boundary=") != 0) continue;
    // The value as written (a boundary is case-sensitive), quoted or not.
    std::string_view value = contentType.substr(name + 9);
    if (!value.empty() && value.front() == '"') {
      const size_t close = value.find('"', 1);
      if (close == std::string_view::npos) return std::nullopt;
      value = value.substr(1, close - 1);
    } else {
      value = value.substr(0, value.find_first_of("; "));
    }
    if (value.empty() || value.size() > 200) return std::nullopt;
    return std::string(value);
  }
  return std::nullopt;
}

std::vector<std::string_view> multipartParts(std::string_view body, const std::string& boundary) {
  const std::string delimiter = "--" + boundary;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) throw RouterError("multipart body: no part starts with the boundary");
  std::vector<std::string_view> parts;
  const std::string next = "\r\n" + delimiter;
  for (;;) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") return parts;  // the closing delimiter
    const size_t headersEnd = body.find("\r\n\r\n", at);
    const size_t end = body.find(next, at);
    if (end == std::string_view::npos) throw RouterError("multipart body: the closing boundary is missing");
    if (headersEnd == std::string_view::npos || headersEnd > end) {
      throw RouterError("multipart body: part " + std::to_string(parts.size() + 1) +
                        " has no blank line after its headers");
    }
    parts.push_back(body.substr(headersEnd + 4, end - headersEnd - 4));
    at = end + 2;
  }
}

}  // namespace router
