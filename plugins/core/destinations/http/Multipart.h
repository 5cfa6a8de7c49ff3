// Reads a multipart body (RFC 2046; multipart/related as in DICOMweb STOW-RS,
// or multipart/form-data) into its parts' contents.
// Untrusted input (a REST body): every length is checked; a malformed body
// gives an error saying what is wrong, never a partial answer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace router {

// The boundary parameter of a multipart Content-Type; nullopt when the type is
// not multipart/... or names no boundary.
std::optional<std::string> multipartBoundary(std::string_view contentType);

// The contents of each part, headers left out. Throws RouterError when the
// body does not follow the boundary (no opening or closing delimiter, a part
// without its blank line after the headers).
std::vector<std::string_view> multipartParts(std::string_view body, const std::string& boundary);

}  // namespace router
