#pragma once

// Plain value types shared by the routing engine's inputs, decisions, config and views.
// No behaviour beyond stable names; safe to copy between threads (they are values).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace omni::routing::engine {

// Milliseconds since an epoch chosen by the driver (Unix epoch for the router, 0 for the
// simulator). The engine never reads a clock: every call carries `now`.
using timestamp = std::int64_t;
// A span of time in milliseconds.
using duration = std::int64_t;

inline constexpr duration seconds(std::int64_t s) { return s * 1000; }
inline constexpr duration minutes(std::int64_t m) { return m * 60'000; }
inline constexpr duration hours(std::int64_t h) { return h * 3'600'000; }

enum class channel : std::uint8_t { email, chat, messenger, voice, sms };
inline constexpr std::size_t channel_count = 5;
inline constexpr std::array<channel, channel_count> all_channels = {
    channel::email, channel::chat, channel::messenger, channel::voice, channel::sms};
inline constexpr std::size_t index_of(channel c) { return static_cast<std::size_t>(c); }

// What the agent has told the desk (available/away/offline), or what the engine concluded
// (not_responding after repeated missed offers). `wrap_up` here is an agent-chosen state that
// takes no work at all; the per-channel wrap-up after a completion is tracked separately.
enum class presence : std::uint8_t { offline, available, away, wrap_up, not_responding };

// How a queue picks among several eligible available agents.
enum class strategy : std::uint8_t { longest_idle, least_occupied, most_skilled, round_robin };

// Lifecycle of one contact inside the engine. Terminal states: completed, abandoned, expired.
enum class contact_state : std::uint8_t {
  waiting,
  offered,
  assigned,
  completed,
  abandoned,
  expired
};

std::string_view to_string(channel c);
std::string_view to_string(presence p);
std::string_view to_string(strategy s);
std::string_view to_string(contact_state s);
std::optional<channel> parse_channel(std::string_view s);
std::optional<presence> parse_presence(std::string_view s);
std::optional<strategy> parse_strategy(std::string_view s);

// A customer contact as the engine sees it: the routing-relevant subset of core's contact.
struct contact {
  std::string id;
  channel chan = channel::email;
  std::string provider;
  std::string to;  // the address the customer contacted: mailbox, bot, phone number
  std::string subject;
  std::string text;
  std::string language;
  std::string customer_id;
  std::string customer_tier;
  std::map<std::string, std::string> attributes;
  int priority_boost = 0;  // VIP / key-customer raise, added to the queue's priority
};

struct skill_level {
  std::string skill;
  int proficiency = 1;  // 1..10
  bool operator==(const skill_level&) const = default;
};

// Per-channel integers (capacity, load); indexed by index_of(channel).
using per_channel = std::array<int, channel_count>;

}  // namespace omni::routing::engine
