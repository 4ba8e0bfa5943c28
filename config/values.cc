#include "config/values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace omni::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads the leading decimal digits of `text` into `out`; false when there are none or on overflow.
bool take_number(std::string_view& text, std::uint64_t& out) {
  std::size_t n = 0;
  while (n < text.size() && is_digit(text[n])) ++n;
  if (n == 0) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, out);
  if (ec != std::errc{} || ptr != text.data() + n) return false;
  text.remove_prefix(n);
  return true;
}

bool checked_mul_add(std::uint64_t& total, std::uint64_t value, std::uint64_t unit,
                     std::uint64_t limit) {
  if (value != 0 && unit > limit / value) return false;
  const std::uint64_t add = value * unit;
  if (add > limit - total) return false;
  total += add;
  return true;
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

std::string address::to_string() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds{0};
  if (text.empty()) return std::nullopt;
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t total = 0;
  while (!text.empty()) {
    std::uint64_t value = 0;
    if (!take_number(text, value)) return std::nullopt;
    std::size_t n = 0;
    while (n < text.size() && std::isalpha(static_cast<unsigned char>(text[n]))) ++n;
    const std::string_view unit = text.substr(0, n);
    text.remove_prefix(n);
    std::uint64_t ms = 0;
    if (unit == "ms") {
      ms = 1;
    } else if (unit == "s") {
      ms = 1000;
    } else if (unit == "m") {
      ms = 60 * 1000;
    } else if (unit == "h") {
      ms = 60 * 60 * 1000;
    } else if (unit == "d") {
      ms = 24 * 60 * 60 * 1000;
    } else {
      return std::nullopt;
    }
    if (!checked_mul_add(total, value, ms, limit)) return std::nullopt;
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(total)};
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  constexpr std::pair<std::int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

std::optional<byte_size> parse_byte_size(std::string_view text) {
  std::uint64_t value = 0;
  if (!take_number(text, value)) return std::nullopt;
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  std::uint64_t unit = 0;
  constexpr std::uint64_t k = 1024;
  if (text.empty() || text == "B") {
    unit = 1;
  } else if (text == "KiB") {
    unit = k;
  } else if (text == "MiB") {
    unit = k * k;
  } else if (text == "GiB") {
    unit = k * k * k;
  } else if (text == "TiB") {
    unit = k * k * k * k;
  } else if (text == "KB" || text == "kB") {
    unit = 1000;
  } else if (text == "MB") {
    unit = 1000'000;
  } else if (text == "GB") {
    unit = 1000'000'000;
  } else if (text == "TB") {
    unit = 1000'000'000'000;
  } else {
    return std::nullopt;
  }
  std::uint64_t total = 0;
  if (!checked_mul_add(total, value, unit, std::numeric_limits<std::uint64_t>::max())) {
    return std::nullopt;
  }
  return byte_size{total};
}

std::optional<address> parse_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '[' || c == ']' || c == '/') {
      return std::nullopt;
    }
  }
  std::uint64_t number = 0;
  if (!take_number(port, number) || !port.empty() || number > 65535) return std::nullopt;
  return address{std::string(host), static_cast<std::uint16_t>(number)};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions; three rolling rows.
  std::vector<std::size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  const std::size_t allowed = word.size() <= 4 ? 1 : 2;
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& candidate : candidates) {
    if (candidate == word) continue;
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace omni::config
