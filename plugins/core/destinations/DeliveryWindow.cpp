#include "plugins/core/destinations/DeliveryWindow.h"

#include <ctime>

namespace router {
namespace {

struct LocalMinute {
  int weekday;  // 0 = Sunday
  int minute;   // of the day
};

LocalMinute localMinute(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm local{};
  localtime_r(&seconds, &local);
  return {local.tm_wday, local.tm_hour * 60 + local.tm_min};
}

bool dayAllowed(const DeliveryWindow& w, int weekday) { return w.weekdays.empty() || w.weekdays.count(weekday) > 0; }

bool open(const DeliveryWindow& w, LocalMinute at) {
  if (w.fromMinute <= w.toMinute) {
    return dayAllowed(w, at.weekday) && at.minute >= w.fromMinute && at.minute < w.toMinute;
  }
  // Past midnight: the evening part on an allowed day, the morning part on the day after one.
  if (at.minute >= w.fromMinute) return dayAllowed(w, at.weekday);
  if (at.minute < w.toMinute) return dayAllowed(w, (at.weekday + 6) % 7);
  return false;
}

}  // namespace

bool windowOpen(const std::vector<DeliveryWindow>& windows, std::chrono::system_clock::time_point now) {
  if (windows.empty()) return true;
  const LocalMinute at = localMinute(now);
  for (const DeliveryWindow& w : windows) {
    if (open(w, at)) return true;
  }
  return false;
}

std::optional<std::chrono::system_clock::time_point> nextOpening(const std::vector<DeliveryWindow>& windows,
                                                                 std::chrono::system_clock::time_point now) {
  if (windows.empty() || windowOpen(windows, now)) return std::nullopt;
  // Whole minutes from the next one on (a daylight-saving change moves the
  // local clock, so each minute is converted again).
  auto t = std::chrono::time_point_cast<std::chrono::minutes>(now) + std::chrono::minutes(1);
  for (int i = 0; i < 8 * 24 * 60; ++i, t += std::chrono::minutes(1)) {
    if (windowOpen(windows, t)) return t;
  }
  return std::nullopt;
}

std::string describe(const std::vector<DeliveryWindow>& windows) {
  std::string text;
  for (const DeliveryWindow& w : windows) text += (text.empty() ? "" : "; ") + w.text;
  return text.empty() ? "always" : text;
}

}  // namespace router
