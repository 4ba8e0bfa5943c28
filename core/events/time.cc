// RFC 3339 timestamps with milliseconds, in UTC: formatting and parsing.
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/events/codec.h"

namespace omni::core {

namespace {
// Howard Hinnant's civil-date algorithms (public domain formulas).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::size_t format_timestamp_to(timestamp_ms t, char* buf) {
  std::int64_t days = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;
  std::int64_t ms_of_day = t - days * 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  const int h = static_cast<int>(ms_of_day / 3600000),
            mi = static_cast<int>(ms_of_day / 60000 % 60),
            sec = static_cast<int>(ms_of_day / 1000 % 60), ms = static_cast<int>(ms_of_day % 1000);
  if (y < 0 || y > 9999) {
    return static_cast<std::size_t>(std::snprintf(buf, 40, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                                                  static_cast<long long>(y), m, d, h, mi, sec, ms));
  }
  auto put = [&](std::size_t at, int v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, static_cast<int>(y), 4);
  buf[4] = '-';
  put(5, static_cast<int>(m), 2);
  buf[7] = '-';
  put(8, static_cast<int>(d), 2);
  buf[10] = 'T';
  put(11, h, 2);
  buf[13] = ':';
  put(14, mi, 2);
  buf[16] = ':';
  put(17, sec, 2);
  buf[19] = '.';
  put(20, ms, 3);
  buf[23] = 'Z';
  buf[24] = '\0';
  return 24;
}

std::string format_timestamp(timestamp_ms t) {
  char buf[40];
  return std::string(buf, format_timestamp_to(t, buf));
}

result<timestamp_ms> parse_timestamp(std::string_view s) {
  const error bad{"is not an RFC 3339 timestamp (e.g. 2026-11-23T03:37:48.123Z)", ""};
  int y, mo, d, h, mi, sec;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return bad;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return bad;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return bad;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om))
      return bad;
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad;
  }
  if (pos != s.size()) return bad;
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(sec, 59) - offset_min * 60;
  return secs * 1000 + ms;
}

}  // namespace omni::core
