// Exponential backoff with jitter for failed deliveries.
#pragma once

#include <chrono>
#include <random>

#include "plugins/core/config/Config.h"

namespace router {

// Delay before attempt number `attempts + 1`, after `attempts` failures:
// InitialDelay * Multiplier^(attempts-1), capped at MaxDelay, then spread by
// +-20% so jobs that failed together do not all come back together.
std::chrono::milliseconds backoffDelay(const RetryPolicy& policy, int attempts, std::mt19937_64& random);

}  // namespace router
