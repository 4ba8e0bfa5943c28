#pragma once

// Typed configuration of one routing domain's engine: queues, classification rules, channel
// settings, affinity. Built by config/ from YAML (or by tests directly); validated by
// validate(). Plain values, owned by whoever builds the engine; the engine keeps a copy.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "routing/engine/types.h"

namespace omni::routing::engine {

struct skill_requirement {
  std::string skill;
  int min_proficiency = 1;  // 1..10
};

enum class escalation_kind : std::uint8_t {
  relax_proficiency,  // lower `skill`'s minimum to `min_proficiency`
  drop_skill,         // stop requiring `skill`
  overflow,           // move the contact to `target_queue`
  raise_priority,     // add `priority_delta` to the contact's priority
};
std::string_view to_string(escalation_kind k);

// One timed step; `after` counts from the moment the contact entered this queue.
struct escalation_step {
  duration after = 0;
  escalation_kind kind = escalation_kind::raise_priority;
  std::string skill;
  int min_proficiency = 1;
  std::string target_queue;
  int priority_delta = 0;
};

enum class expiry_action : std::uint8_t { expire, overflow };

struct queue_config {
  std::string name;
  std::vector<skill_requirement> required_skills;
  std::vector<channel> channels;  // channels this queue serves; empty = all
  int base_priority = 0;
  duration sla_threshold = seconds(20);     // "answered within T"
  double sla_target = 0.8;                  // share answered within T (reported, not enforced)
  std::vector<escalation_step> escalation;  // sorted by `after` on load
  std::optional<duration> max_wait;         // time in this queue before on_max_wait applies
  expiry_action on_max_wait = expiry_action::expire;
  std::string max_wait_target;  // queue for expiry_action::overflow
  strategy agent_strategy = strategy::longest_idle;
  bool affinity = true;  // offer to the customer's recent agent first
};

// Every non-empty field must match (AND); within a list any element may match (OR).
// Strings compare case-insensitively; keywords are substrings of subject or text; the regex
// (ECMAScript, case-insensitive) is searched in "subject\ntext".
struct rule_match {
  std::vector<channel> channels;
  std::vector<std::string> providers;
  std::vector<std::string> to;
  std::vector<std::string> keywords;
  std::string regex;
  std::vector<std::string> languages;
  std::vector<std::string> customer_tiers;
  std::map<std::string, std::string> attributes;  // all must be present with equal value
};

// First matching rule (in order) whose queue serves the contact's channel wins.
struct classification_rule {
  std::string name;
  rule_match match;
  std::string queue;
  int priority = 0;  // added to the queue's base priority
};

struct channel_config {
  int default_capacity = 1;
  duration accept_timeout = seconds(30);
  bool auto_accept = false;
  duration wrap_up = 0;  // after a completion, no new work on this channel for this long
  duration default_handle_time = minutes(5);  // seeds the expected-wait estimate
};

struct affinity_config {
  bool enabled = true;
  duration window = hours(72);     // how recent the customer's last handled contact must be
  duration timebox = seconds(15);  // accept timeout of the affinity offer (capped by channel's)
};

struct engine_config {
  std::vector<queue_config> queues;
  std::vector<classification_rule> rules;
  std::string default_queue;  // gets unclassified contacts; serves every channel
  std::array<channel_config, channel_count> channels = default_channels();
  // blocks[held][offered]: an agent holding work on `held` gets no new `offered` work.
  std::array<std::array<bool, channel_count>, channel_count> blocks = default_blocks();
  affinity_config affinity;
  std::map<std::string, int> tier_priority;  // customer tier -> priority added (e.g. vip: 10)
  int max_consecutive_misses = 3;            // offer timeouts in a row -> not_responding
  bool requeue_assigned_on_logout = true;    // logout also returns accepted contacts
  std::size_t dedupe_window = 100'000;       // recently finished contact ids remembered

  // voice 1, chat 3, email 5, messenger 3, sms 3; 30 s accept timeout; no wrap-up.
  static std::array<channel_config, channel_count> default_channels();
  // An agent on a voice call gets no other work; nothing else blocks.
  static std::array<std::array<bool, channel_count>, channel_count> default_blocks();
};

// Empty when the config is usable; otherwise one line per problem.
// The most classification rules, and escalation steps per queue, a config may have (the
// engine keeps a contact's rule and step in 16 bits).
inline constexpr std::size_t max_config_index = 32767;

std::string validate(const engine_config& config);

}  // namespace omni::routing::engine
