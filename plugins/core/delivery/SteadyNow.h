// The time source of delivery's timers (circuit breaker, crash memo): the
// steady clock in the appliance, a clock the test moves by hand in unit tests.
//
// Thread safety: realSteadyNow() may be called from any thread; a test's
// clock must be too when the unit under test runs threads.
#pragma once

#include <chrono>
#include <functional>

namespace router {

using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;

inline SteadyNow realSteadyNow() {
  return [] { return std::chrono::steady_clock::now(); };
}

}  // namespace router
