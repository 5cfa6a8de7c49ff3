#include "plugins/core/delivery/Backoff.h"

#include <algorithm>
#include <cmath>

namespace router {

std::chrono::milliseconds backoffDelay(const RetryPolicy& policy, int attempts, std::mt19937_64& random) {
  double base = static_cast<double>(std::chrono::milliseconds(policy.initialDelay).count());
  double cap = static_cast<double>(std::chrono::milliseconds(policy.maxDelay).count());
  double delay = base * std::pow(policy.multiplier, std::max(0, attempts - 1));
  delay = std::min(delay, cap);
  std::uniform_real_distribution<double> spread(0.8, 1.2);
  delay = std::min(delay * spread(random), cap);
  return std::chrono::milliseconds(static_cast<int64_t>(delay));
}

}  // namespace router
