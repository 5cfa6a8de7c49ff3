// How queue rows are written, whatever the backend: the stored numbers of
// batch states and levels, the text of a route's tag edits and
// de-identification, a batch's list
// of senders, a member's place in its batch, and wall-clock milliseconds.
// These are part of the stored format (a file or a shared database): never
// renumber, only add. Job and intake states are in Queue.h (storedValue).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "plugins/core/model/Route.h"
#include "plugins/core/queue/Queue.h"

namespace router::stored {

int64_t value(BatchState state);
BatchState batchState(int64_t value);  // throws RouterError on a number no release wrote
int64_t value(RouteLevel level);
RouteLevel level(int64_t value);

std::string encodeEdits(const TagEdits& edits);  // JSON [[key, value-or-null], ...]
TagEdits decodeEdits(const std::string& text);   // throws RouterError on a corrupt text
// A route's de-identification as JSON {"project", "profile", "options"}, or
// '' when it does not de-identify.
std::string encodeDeidentify(const Deidentify& d);
Deidentify decodeDeidentify(const std::string& text);  // throws RouterError on a corrupt text

// An item in flight when the process stopped this many times in a row is
// not tried again: it may be what stops the process (AdminQueue::recover()).
inline constexpr int kQuarantineAfter = 2;
// The error a quarantined intake item gets, and the one a quarantined job's
// last error starts with.
std::string quarantinedRouting();
std::string quarantinedDelivery();

// One item a line; empty lines are dropped.
std::vector<std::string> lines(const std::string& text);

// The position of an instance in its batch: series, then instance number.
int64_t sortKey(const RoutedInstance& instance);

// A waiting batch as its row has it (ms), and whether every required series
// is there yet (present; true when it requires none).
struct WaitingBatch {
  int64_t firstAt = 0, lastAt = 0, quietMs = 0, maxWaitMs = 0, instances = 0, expected = 0;
  bool present = true, hasRequirements = false;
};
// Why the batch is complete at nowMs ("expected count", "quiet time",
// "required series and quiet time", "maximum wait"), or nullptr while it
// is not; then dueAtMs is when time alone completes it.
const char* completeBecause(const WaitingBatch& b, int64_t nowMs, int64_t& dueAtMs);

inline int64_t toMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Clock::time_point fromMs(int64_t ms) { return Clock::time_point(std::chrono::milliseconds(ms)); }
inline int64_t nowMs() { return toMs(Clock::now()); }

}  // namespace router::stored
