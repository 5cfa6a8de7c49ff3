// The multipart reader of POST /router/rules/test: well-formed bodies as curl
// and browsers send them, and hostile ones (a REST body is untrusted input).
#include <gtest/gtest.h>

#include "plugins/core/Error.h"
#include "plugins/core/destinations/http/Multipart.h"

namespace router {
namespace {

TEST(Multipart, TheBoundaryComesFromTheContentType) {
  EXPECT_EQ(multipartBoundary("multipart/form-data; boundary=----x1"), "----x1");
  EXPECT_EQ(multipartBoundary("Multipart/Related; type=\"application/dicom\"; boundary=\"a b\""), "a b");
  EXPECT_EQ(multipartBoundary("multipart/related;boundary=Ab;type=application/dicom"), "Ab");
  EXPECT_FALSE(multipartBoundary("application/dicom"));
  EXPECT_FALSE(multipartBoundary("multipart/form-data"));
  EXPECT_FALSE(multipartBoundary("multipart/form-data; boundary=\"open"));
  EXPECT_FALSE(multipartBoundary("multipart/form-data; boundary="));
}

TEST(Multipart, PartsAreTheirContentsWithoutHeaders) {
  using namespace std::string_literals;
  // A part that holds a NUL, CRLFs and the boundary text not after a CRLF.
  const std::string body =
      "preamble\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.dcm\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\nAAA\r\n--B\r\nX-Other: 1\r\n\r\n"
      "\r\n\0B--B\r\n--B\r\n\r\n\r\n--B--\r\nepilogue"s;
  auto parts = multipartParts(body, "B");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "AAA");
  EXPECT_EQ(parts[1], "\r\n\0B--B"s);
  EXPECT_EQ(parts[2], "");
}

TEST(Multipart, MalformedBodiesAreRefusedWithTheReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"no delimiter at all", "no part starts with the boundary"},
      {"--B\r\n\r\nAAA", "the closing boundary is missing"},
      {"--B\r\nheaders without end\r\n--B--", "part 1 has no blank line after its headers"},
      {"--B\r\nX: 1\r\n\r\n--B--", "part 1 has no blank line after its headers"},
      {"--B", "no part starts with the boundary"},  // a delimiter ends with a CRLF or "--"
  };
  for (const auto& [body, reason] : cases) {
    try {
      multipartParts(body, "B");
      ADD_FAILURE() << body;
    } catch (const RouterError& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(multipartParts("--B--", "B").empty());
  // The boundary text inside a body, and a delimiter with transport padding.
  auto parts = multipartParts("--B \r\n\r\n--Bx\r\n--B\t\r\nX: 1\r\n\r\ny\r\n--B--", "B");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "--Bx");
  EXPECT_EQ(parts[1], "y");
}

}  // namespace
}  // namespace router
