// Delivery windows: the hours (local time of the appliance, its TZ) in
// which a destination receives, e.g. a research archive only 20:00-06:00 or
// only at weekends. Outside them its queue waits without using attempts;
// urgent routes go anyway. Pure functions of a time, so tests pass any.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace router {

struct DeliveryWindow {
  std::set<int> weekdays;  // 0 = Sunday .. 6 = Saturday; empty = every day
  int fromMinute = 0;      // minutes after local midnight
  int toMinute = 24 * 60;  // to < from: the window runs past midnight (into the next day)
  std::string text;        // as configured, for messages ("Sat,Sun 20:00-06:00")
};

// Open when any window is; no window: always open.
bool windowOpen(const std::vector<DeliveryWindow>& windows, std::chrono::system_clock::time_point now);
// When a closed set of windows opens next (to the minute, within 8 days);
// nullopt when open now, when there is no window, or none ever opens.
std::optional<std::chrono::system_clock::time_point> nextOpening(const std::vector<DeliveryWindow>& windows,
                                                                 std::chrono::system_clock::time_point now);
// "20:00-06:00", "Mon,Tue 08:00-18:00": what a window is, for status and logs.
std::string describe(const std::vector<DeliveryWindow>& windows);

}  // namespace router
