#include "plugins/core/intake/ChangeCursor.h"

#include <algorithm>

namespace router {

int64_t ChangeCursor::advanceTo(int64_t cursor, const std::vector<int64_t>& seqs,
                                SteadyClock::time_point now) const {
  const std::set<int64_t> fresh(seqs.begin(), seqs.end());
  auto seen = [&](int64_t seq) { return seen_.count(seq) > 0 || fresh.count(seq) > 0; };
  int64_t to = cursor;
  while (seen(to + 1)) ++to;
  // Past a gap: the highest number seen at least grace ago.
  for (const auto& [at, seq] : highest_) {
    if (now - at < grace_) break;
    to = std::max(to, seq);
  }
  return to;
}

void ChangeCursor::committed(int64_t cursor, const std::vector<int64_t>& seqs, SteadyClock::time_point now) {
  int64_t highest = seen_.empty() ? cursor : std::max(cursor, *seen_.rbegin());
  for (int64_t seq : seqs) {
    if (seq > cursor) seen_.insert(seq);
  }
  seen_.erase(seen_.begin(), seen_.upper_bound(cursor));
  if (!seen_.empty() && *seen_.rbegin() > highest) highest_.emplace_back(now, *seen_.rbegin());
  while (!highest_.empty() && highest_.front().second <= cursor) highest_.pop_front();
}

}  // namespace router
