// The circuit breaker of one destination, on a clock the test moves: it
// opens after the configured failures in a row, lets one probe through per
// ProbeInterval, closes on an answer, and says "fail over" only once the
// destination has been down for FailoverAfter.
#include <gtest/gtest.h>

#include <chrono>

#include "plugins/core/delivery/Breaker.h"

namespace router {
namespace {

using namespace std::chrono_literals;
using Gate = Breaker::Gate;
using AfterProbe = Breaker::AfterProbe;

struct FakeClock {
  std::chrono::steady_clock::time_point time{std::chrono::hours(1000)};
  SteadyNow now() {
    return [this] { return time; };
  }
};

CircuitBreaker policy(int failures, std::chrono::seconds probeInterval) {
  CircuitBreaker p;
  p.failures = failures;
  p.probeInterval = probeInterval;
  return p;
}

// Opens the breaker with `failures` unanswered sends.
void trip(Breaker& breaker, int failures) {
  for (int i = 0; i < failures; ++i) breaker.recordSend(false);
  ASSERT_TRUE(breaker.down());
}

TEST(BreakerTest, OpensAfterTheConfiguredFailuresInARow) {
  FakeClock clock;
  Breaker breaker(policy(3, 10s), std::nullopt, clock.now());
  EXPECT_EQ(breaker.admit(), Gate::Take);
  EXPECT_FALSE(breaker.recordSend(false));
  EXPECT_FALSE(breaker.recordSend(false));
  EXPECT_FALSE(breaker.recordSend(true));  // an answer: the count starts again
  EXPECT_FALSE(breaker.recordSend(false));
  EXPECT_FALSE(breaker.recordSend(false));
  EXPECT_FALSE(breaker.down());
  EXPECT_EQ(breaker.recordSend(false), std::optional<int>(3));  // this one opened it
  EXPECT_TRUE(breaker.down());
  EXPECT_FALSE(breaker.recordSend(false));  // already open: said once
  EXPECT_EQ(breaker.admit(), Gate::Wait);   // no job, and no probe right away
  clock.time += 4s;
  EXPECT_EQ(breaker.downFor(), 4s);
}

TEST(BreakerTest, ProbesOncePerProbeInterval) {
  FakeClock clock;
  Breaker breaker(policy(1, 10s), std::nullopt, clock.now());
  trip(breaker, 1);
  clock.time += 9s;
  EXPECT_EQ(breaker.admit(), Gate::Wait);
  clock.time += 1s;
  EXPECT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.admit(), Gate::Wait);  // another worker: this probe is taken
  EXPECT_EQ(breaker.probed(false), AfterProbe::StillDown);
  clock.time += 9s;
  EXPECT_EQ(breaker.admit(), Gate::Wait);
  clock.time += 1s;
  EXPECT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.probed(false), AfterProbe::StillDown);
  EXPECT_TRUE(breaker.down());
}

TEST(BreakerTest, ClosesWhenAProbeIsAnswered) {
  FakeClock clock;
  Breaker breaker(policy(2, 5s), std::nullopt, clock.now());
  trip(breaker, 2);
  clock.time += 5s;
  ASSERT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.probed(true), AfterProbe::Up);
  EXPECT_FALSE(breaker.down());
  EXPECT_EQ(breaker.downFor(), Breaker::Duration::zero());
  EXPECT_EQ(breaker.admit(), Gate::Take);
  // Closed with a clean count: it takes two new failures to open it again.
  EXPECT_FALSE(breaker.recordSend(false));
  EXPECT_FALSE(breaker.down());
  EXPECT_EQ(breaker.recordSend(false), std::optional<int>(2));
}

TEST(BreakerTest, FailsOverOnceDownForFailoverAfterAndNotBefore) {
  FakeClock clock;
  Breaker breaker(policy(1, 10s), std::optional<Breaker::Duration>(35s), clock.now());
  trip(breaker, 1);
  int failOvers = 0;
  int firstAt = 0;
  for (int second = 10; second <= 40; second += 10) {
    clock.time += 10s;
    ASSERT_EQ(breaker.admit(), Gate::Probe) << "at " << second << " s";
    AfterProbe next = breaker.probed(false);
    if (next == AfterProbe::FailOver && failOvers++ == 0) firstAt = second;
  }
  EXPECT_EQ(failOvers, 1);
  EXPECT_EQ(firstAt, 40);  // the first failed probe past 35 s, not one before
  // A probe that answers in time closes it: no failover then.
  clock.time += 10s;
  ASSERT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.probed(true), AfterProbe::Up);
  // Down again later: FailoverAfter counts from this new opening.
  trip(breaker, 1);
  clock.time += 30s;
  ASSERT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.probed(false), AfterProbe::StillDown);
  clock.time += 10s;
  ASSERT_EQ(breaker.admit(), Gate::Probe);
  EXPECT_EQ(breaker.probed(false), AfterProbe::FailOver);
}

TEST(BreakerTest, WithoutAFailoverItOnlyProbes) {
  FakeClock clock;
  DestinationConfig config;
  config.circuitBreaker = policy(1, 1s);
  config.failoverAfter = 2s;  // no Failover named: not used
  Breaker breaker(config, clock.now());
  trip(breaker, 1);
  for (int i = 0; i < 10; ++i) {
    clock.time += 1s;
    ASSERT_EQ(breaker.admit(), Gate::Probe);
    EXPECT_EQ(breaker.probed(false), AfterProbe::StillDown);
  }
  config.failover = "backup";
  Breaker withFailover(config, clock.now());
  trip(withFailover, 1);
  clock.time += 2s;
  ASSERT_EQ(withFailover.admit(), Gate::Probe);
  EXPECT_EQ(withFailover.probed(false), AfterProbe::FailOver);
}

}  // namespace
}  // namespace router
