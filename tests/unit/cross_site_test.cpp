// The cross-site rule of mutating routes: what a script or curl sends
// passes; what a page on another site can make a browser send does not.
#include <gtest/gtest.h>

#include "plugins/orthanc/CrossSite.h"

namespace router::orthanc {
namespace {

RequestOrigin request(std::string header, std::string origin, std::string host,
                      std::string site = "") {
  return RequestOrigin{std::move(header), std::move(origin), std::move(host), std::move(site)};
}

TEST(CrossSiteTest, ScriptsWithTheHeaderAndNoOriginPass) {
  EXPECT_FALSE(crossSiteRefusal(request("1", "", "127.0.0.1:8042")));
  EXPECT_FALSE(crossSiteRefusal(request("1", "", "")));
}

TEST(CrossSiteTest, WithoutTheHeaderAnythingIsRefused) {
  auto refusal = crossSiteRefusal(request("", "", "127.0.0.1:8042"));
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("X-Router-Console"), std::string::npos);
  // A same-origin form (no custom header possible) is refused too.
  EXPECT_TRUE(
      crossSiteRefusal(request("", "http://127.0.0.1:8042", "127.0.0.1:8042", "same-origin")));
}

TEST(CrossSiteTest, TheConsoleOnItsOwnOriginPasses) {
  EXPECT_FALSE(
      crossSiteRefusal(request("1", "http://127.0.0.1:8042", "127.0.0.1:8042", "same-origin")));
  EXPECT_FALSE(crossSiteRefusal(request("1", "http://Router.Example:8042", "router.example:8042")));
  // Default ports, written or not.
  EXPECT_FALSE(crossSiteRefusal(request("1", "https://router.example", "router.example:443")));
  EXPECT_FALSE(crossSiteRefusal(request("1", "http://router.example:80", "router.example")));
}

TEST(CrossSiteTest, AnotherOriginIsRefusedEvenWithTheHeader) {
  EXPECT_TRUE(crossSiteRefusal(request("1", "http://127.0.0.1:9000", "127.0.0.1:8042")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "http://evil.example", "127.0.0.1:8042")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "https://router.example", "router.example:80")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "null", "127.0.0.1:8042")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "http://127.0.0.1:8042/x", "127.0.0.1:8042")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "http://127.0.0.1:8042", "")));
}

TEST(CrossSiteTest, FetchMetadataOtherThanSameOriginIsRefused) {
  EXPECT_TRUE(crossSiteRefusal(request("1", "", "127.0.0.1:8042", "cross-site")));
  EXPECT_TRUE(crossSiteRefusal(request("1", "", "127.0.0.1:8042", "same-site")));
  EXPECT_FALSE(crossSiteRefusal(request("1", "", "127.0.0.1:8042", "none")));
  EXPECT_FALSE(crossSiteRefusal(request("1", "", "127.0.0.1:8042", "Same-Origin")));
}

}  // namespace
}  // namespace router::orthanc
