// How far intake may move Orthanc's changes-log cursor, so that no change is
// skipped when changes become visible out of order.
//
// Why: on one Orthanc PostgreSQL index shared by several Orthanc servers (and
// on one server whose index runs concurrent transactions), a change's
// sequence number is drawn when its transaction writes it and becomes visible
// when that transaction commits. Change 101 may be visible before change 100.
// A cursor moved to 101 at that moment would never take in change 100: a lost
// instance. Gaps also stay for good: a transaction that drew a number and
// rolled back (PostgreSQL's serialization retries) or a deleted resource's
// changes.
//
// The rule: the cursor moves at once over a run of sequence numbers that are
// all seen; over a missing one only once the highest number seen when the
// gap was noticed is `grace` old. Every missing number below it was drawn
// before then, so its transaction has committed or rolled back by then (an
// Orthanc transaction lasts milliseconds; grace is seconds). Meanwhile the
// changes after the gap are taken in as they appear: a gap delays only the
// cursor, never an instance.
//
// It also remembers which numbers after the cursor this node has already
// recorded, so that reading the log again from a cursor held back by a gap
// does not record them again.
//
// Thread safety: none; the intake thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <set>
#include <utility>
#include <vector>

namespace router {

class ChangeCursor {
 public:
  using SteadyClock = std::chrono::steady_clock;

  explicit ChangeCursor(std::chrono::milliseconds grace) : grace_(grace) {}

  // Recorded already (by this node, after the cursor).
  bool recorded(int64_t seq) const { return seen_.count(seq) > 0; }
  // Where the cursor may move from `cursor` once `seqs` (sequence numbers
  // read from the log, in any order) are recorded too. Changes nothing.
  int64_t advanceTo(int64_t cursor, const std::vector<int64_t>& seqs, SteadyClock::time_point now) const;
  // `seqs` were recorded at `now` and the stored cursor is now `cursor`.
  void committed(int64_t cursor, const std::vector<int64_t>& seqs, SteadyClock::time_point now);
  // Numbers after `cursor` seen but not yet passed by it (for the status).
  size_t pending() const { return seen_.size(); }

 private:
  const std::chrono::milliseconds grace_;
  std::set<int64_t> seen_;                                   // recorded, after the cursor
  std::deque<std::pair<SteadyClock::time_point, int64_t>> highest_;  // when each new highest was seen
};

}  // namespace router
