// The metrics-only user: allowed to scrape, refused everything else.
#include <gtest/gtest.h>

#include "plugins/core/metrics/MetricsAccess.h"

namespace router {
namespace {

// "prometheus:secret" and "admin:pw" in base64.
const std::string kPrometheus = "Basic cHJvbWV0aGV1czpzZWNyZXQ=";
const std::string kAdmin = "Basic YWRtaW46cHc=";

TEST(MetricsAccessTest, ReadsTheBasicAuthUser) {
  EXPECT_EQ(basicAuthUser(kPrometheus).value(), "prometheus");
  EXPECT_EQ(basicAuthUser("basic YWRtaW46cHc=").value(), "admin");
  EXPECT_FALSE(basicAuthUser("Bearer abc"));
  EXPECT_FALSE(basicAuthUser("Basic !!!"));
  EXPECT_FALSE(basicAuthUser(""));
}

TEST(MetricsAccessTest, TheMetricsUserMayOnlyScrape) {
  EXPECT_TRUE(metricsUserMayAccess("prometheus", kPrometheus, true, "/router/metrics"));
  EXPECT_TRUE(metricsUserMayAccess("prometheus", kPrometheus, true, "/router/metrics?x=1"));
  EXPECT_FALSE(metricsUserMayAccess("prometheus", kPrometheus, true, "/router/status"));
  EXPECT_FALSE(metricsUserMayAccess("prometheus", kPrometheus, true, "/instances"));
  EXPECT_FALSE(metricsUserMayAccess("prometheus", kPrometheus, false, "/router/metrics"));
  EXPECT_TRUE(metricsUserMayAccess("prometheus", kAdmin, true, "/instances"));
  EXPECT_TRUE(metricsUserMayAccess("", kPrometheus, true, "/instances"));
}

}  // namespace
}  // namespace router
