// Date arithmetic for the modified-dates option (see DateShift.h), on day
// numbers of the proleptic Gregorian calendar (day 0 = 1970-01-01).
#include "plugins/core/deid/DateShift.h"

#include <cstdint>
#include <cstdio>

namespace router::deid {

namespace {

bool isLeap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int daysInMonth(std::int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01, counted through 400-year cycles (146097 days each)
// so that any year 0..9999 works without a loop over years.
std::int64_t dayNumber(std::int64_t y, int m, int d) {
  // Years start in March here, so the leap day is the last day of a year.
  const std::int64_t yy = m <= 2 ? y - 1 : y;
  const std::int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const std::int64_t yearOfEra = yy - era * 400;
  const int monthFromMarch = m > 2 ? m - 3 : m + 9;
  const std::int64_t dayOfYear = (153 * monthFromMarch + 2) / 5 + d - 1;
  const std::int64_t dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

void civilDate(std::int64_t day, std::int64_t& y, int& m, int& d) {
  day += 719468;
  const std::int64_t era = (day >= 0 ? day : day - 146096) / 146097;
  const std::int64_t dayOfEra = day - era * 146097;
  const std::int64_t yearOfEra =
      (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const std::int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const std::int64_t monthFromMarch = (5 * dayOfYear + 2) / 153;
  d = static_cast<int>(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1);
  m = static_cast<int>(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9);
  y = yearOfEra + era * 400 + (m <= 2 ? 1 : 0);
}

bool digits(std::string_view text) {
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::optional<std::string> shiftDate(std::string_view da, int days) {
  if (da.size() != 8 || !digits(da)) return std::nullopt;
  const std::int64_t y = std::stoll(std::string(da.substr(0, 4)));
  const int m = std::stoi(std::string(da.substr(4, 2)));
  const int d = std::stoi(std::string(da.substr(6, 2)));
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return std::nullopt;
  std::int64_t ny = 0;
  int nm = 0, nd = 0;
  civilDate(dayNumber(y, m, d) - days, ny, nm, nd);
  if (ny < 0 || ny > 9999) return std::nullopt;
  char out[9];
  std::snprintf(out, sizeof out, "%04d%02d%02d", static_cast<int>(ny), nm, nd);
  return std::string(out, 8);
}

std::optional<std::string> shiftDateTime(std::string_view dt, int days) {
  if (dt.size() < 8) return std::nullopt;
  std::optional<std::string> date = shiftDate(dt.substr(0, 8), days);
  if (!date) return std::nullopt;
  return *date + std::string(dt.substr(8));
}

}  // namespace router::deid
