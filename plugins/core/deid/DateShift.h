// Moving DA and DT values back by a whole number of days (the Retain
// Longitudinal Temporal Information Modified Dates option): intervals between
// a patient's dates stay exact, times of day stay as they were.
// Stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace router::deid {

// "YYYYMMDD" moved back by days; nullopt if the value is not such a date.
std::optional<std::string> shiftDate(std::string_view da, int days);

// A DT value: its first 8 characters (YYYYMMDD) moved back by days, the rest
// (time, fraction, UTC offset) kept. nullopt if it has no full date (a DT of
// only a year or a month cannot be moved by days and is not kept).
std::optional<std::string> shiftDateTime(std::string_view dt, int days);

}  // namespace router::deid
