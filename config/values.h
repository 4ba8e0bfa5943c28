#pragma once
// Parsers for the scalar forms configuration files use (durations, byte sizes, host:port addresses)
// and the "did you mean" helper. Pure functions: no YAML, no positions; the reader adds those.

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omni::config {

// A byte count written as `1000`, `64KiB`, `1MiB`, `2GB` (see parse_byte_size).
struct byte_size {
  std::uint64_t bytes = 0;

  auto operator<=>(const byte_size&) const = default;
};

// A `host:port` pair. `host` is a name or an IP address, IPv6 without its brackets; port 0 is
// allowed (bind to any free port, as tests do).
struct address {
  std::string host;
  std::uint16_t port = 0;

  // `host:port`, with brackets around an IPv6 host.
  std::string to_string() const;
  bool operator==(const address&) const = default;
};

// One or more `<integer><unit>` groups, e.g. `250ms`, `30s`, `5m`, `72h`, `7d`, `1m30s`.
// Units: ms, s, m, h, d. A bare integer is rejected (is `30` seconds or milliseconds?), except `0`.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// A non-negative integer with an optional unit: none or B (bytes); KiB, MiB, GiB, TiB (powers of
// 1024); KB or kB, MB, GB, TB (powers of 1000). A space between number and unit is allowed.
std::optional<byte_size> parse_byte_size(std::string_view text);

// `host:port` or `[ipv6]:port`; the port is 0..65535 and the host must not be empty.
std::optional<address> parse_address(std::string_view text);

// `localhost`, `::1` or 127.x.y.z: a host only this machine reaches.
bool is_loopback(std::string_view host);

// `30s`, `250ms`, `1h30m`: the shortest exact spelling parse_duration reads back.
std::string format_duration(std::chrono::milliseconds d);

// The candidate closest to `word` (case-insensitive optimal string alignment distance, i.e.
// Levenshtein plus transpositions), if it is close enough to be a typo: distance at most 1 for
// words of up to 4 characters and at most 2 otherwise. Ties go to the earlier candidate.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

// Optimal string alignment distance between a and b (exposed for tests).
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace omni::config
