// Retry delays: exponential, capped, spread by jitter.
#include <gtest/gtest.h>

#include <set>

#include "plugins/core/delivery/Backoff.h"

namespace router {
namespace {

TEST(BackoffTest, GrowsExponentiallyWithinJitterAndIsCapped) {
  RetryPolicy policy;
  policy.initialDelay = std::chrono::seconds(5);
  policy.multiplier = 2;
  policy.maxDelay = std::chrono::seconds(60);
  std::mt19937_64 random(42);
  for (int run = 0; run < 100; ++run) {
    auto first = backoffDelay(policy, 1, random).count();
    EXPECT_GE(first, 4000);
    EXPECT_LE(first, 6000);
    auto third = backoffDelay(policy, 3, random).count();  // 5 * 2^2 = 20 s +-20%
    EXPECT_GE(third, 16000);
    EXPECT_LE(third, 24000);
    EXPECT_LE(backoffDelay(policy, 30, random).count(), 60000);  // never past MaxDelay
    EXPECT_GE(backoffDelay(policy, 30, random).count(), 48000);
  }
}

TEST(BackoffTest, JitterSpreadsJobsThatFailedTogether) {
  RetryPolicy policy;
  std::mt19937_64 random(7);
  std::set<int64_t> delays;
  for (int i = 0; i < 50; ++i) delays.insert(backoffDelay(policy, 2, random).count());
  EXPECT_GT(delays.size(), 40u);
}

}  // namespace
}  // namespace router
