#include "routing/engine/types.h"

#include "routing/engine/events.h"

namespace omni::routing::engine {

namespace {

template <typename E, std::size_t N>
std::optional<E> parse(std::string_view s, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 5> channel_names = {"email", "chat", "messenger", "voice",
                                                           "sms"};
constexpr std::array<std::string_view, 5> presence_names = {"offline", "available", "away",
                                                            "wrap_up", "not_responding"};
constexpr std::array<std::string_view, 4> strategy_names = {"longest_idle", "least_occupied",
                                                            "most_skilled", "round_robin"};
constexpr std::array<std::string_view, 6> contact_state_names = {
    "waiting", "offered", "assigned", "completed", "abandoned", "expired"};
constexpr std::array<std::string_view, 8> input_result_names = {"ok",
                                                                "unknown_agent",
                                                                "unknown_contact",
                                                                "duplicate_contact",
                                                                "not_offered_to_agent",
                                                                "not_assigned_to_agent",
                                                                "already_assigned",
                                                                "invalid"};

}  // namespace

std::string_view to_string(channel c) { return channel_names[static_cast<std::size_t>(c)]; }
std::string_view to_string(presence p) { return presence_names[static_cast<std::size_t>(p)]; }
std::string_view to_string(strategy s) { return strategy_names[static_cast<std::size_t>(s)]; }
std::string_view to_string(contact_state s) {
  return contact_state_names[static_cast<std::size_t>(s)];
}
std::string_view to_string(input_result r) {
  return input_result_names[static_cast<std::size_t>(r)];
}
std::optional<channel> parse_channel(std::string_view s) {
  return parse<channel>(s, channel_names);
}
std::optional<presence> parse_presence(std::string_view s) {
  return parse<presence>(s, presence_names);
}
std::optional<strategy> parse_strategy(std::string_view s) {
  return parse<strategy>(s, strategy_names);
}

}  // namespace omni::routing::engine
