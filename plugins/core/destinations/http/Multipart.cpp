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
  constexpr size_t npos = std::string_view::npos;
  const std::string dash = "--" + boundary;
  // What follows "--boundary": 2 the closing "--", 1 optional spaces and a
  // CRLF (a part follows), 0 anything else (not a delimiter: part of a body).
  const auto follows = [&](size_t after) {
    if (body.compare(after, 2, "--") == 0) return 2;
    while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
    return body.compare(after, 2, "\r\n") == 0 ? 1 : 0;
  };
  // The CRLF that starts the first delimiter at or after from.
  const auto delimiterAt = [&](size_t from) {
    for (size_t at = body.find("\r\n" + dash, from); at != npos; at = body.find("\r\n" + dash, at + 1)) {
      if (follows(at + 2 + dash.size()) != 0) return at;
    }
    return npos;
  };
  size_t dashAt = 0;
  if (body.compare(0, dash.size(), dash) != 0 || follows(dash.size()) == 0) {
    const size_t first = delimiterAt(0);  // after a preamble
    if (first == npos) throw RouterError("multipart body: no part starts with the boundary");
    dashAt = first + 2;
  }
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t after = dashAt + dash.size();
    if (follows(after) == 2) return parts;
    const size_t lineEnd = body.find("\r\n", after) + 2;  // follows() found it
    const size_t next = delimiterAt(lineEnd - 2);
    if (next == npos) throw RouterError("multipart body: the closing boundary is missing");
    size_t start = npos;  // after the blank line that ends the part's headers
    if (body.compare(lineEnd, 2, "\r\n") == 0) {
      start = lineEnd + 2;
    } else if (const size_t blank = body.find("\r\n\r\n", lineEnd); blank != npos) {
      start = blank + 4;
    }
    if (start == npos || start > next) {
      throw RouterError("multipart body: part " + std::to_string(parts.size() + 1) +
                        " has no blank line after its headers");
    }
    parts.push_back(body.substr(start, next - start));
    dashAt = next + 2;
  }
}

}  // namespace router
