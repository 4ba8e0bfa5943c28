#include "routing/engine/config.h"

#include <regex>
#include <set>

namespace omni::routing::engine {

std::string_view to_string(escalation_kind k) {
  switch (k) {
    case escalation_kind::relax_proficiency:
      return "relax_proficiency";
    case escalation_kind::drop_skill:
      return "drop_skill";
    case escalation_kind::overflow:
      return "overflow";
    case escalation_kind::raise_priority:
      return "raise_priority";
  }
  return "unknown";
}

std::array<channel_config, channel_count> engine_config::default_channels() {
  std::array<channel_config, channel_count> c{};
  c[index_of(channel::email)] = {5, seconds(60), false, 0, minutes(10)};
  c[index_of(channel::chat)] = {3, seconds(30), false, 0, minutes(6)};
  c[index_of(channel::messenger)] = {3, seconds(30), false, 0, minutes(8)};
  c[index_of(channel::voice)] = {1, seconds(20), false, 0, minutes(5)};
  c[index_of(channel::sms)] = {3, seconds(30), false, 0, minutes(8)};
  return c;
}

std::array<std::array<bool, channel_count>, channel_count> engine_config::default_blocks() {
  std::array<std::array<bool, channel_count>, channel_count> b{};
  for (channel c : all_channels) {
    if (c != channel::voice) b[index_of(channel::voice)][index_of(c)] = true;
  }
  return b;
}

std::string validate(const engine_config& config) {
  std::string errors;
  auto fail = [&](const std::string& what) { errors += what + "\n"; };
  std::set<std::string> names;
  for (const auto& q : config.queues) {
    if (q.name.empty()) fail("queue with an empty name");
    if (!names.insert(q.name).second) fail("duplicate queue '" + q.name + "'");
  }
  auto known = [&](const std::string& n) { return names.count(n) > 0; };
  if (config.default_queue.empty() || !known(config.default_queue)) {
    fail("default_queue '" + config.default_queue + "' is not a configured queue");
  }
  for (const auto& q : config.queues) {
    const std::string at = "queue '" + q.name + "': ";
    for (const auto& r : q.required_skills) {
      if (r.skill.empty()) fail(at + "required skill with an empty name");
      if (r.min_proficiency < 1 || r.min_proficiency > 10) {
        fail(at + "min_proficiency of '" + r.skill + "' must be 1..10");
      }
    }
    if (q.sla_threshold < 0) fail(at + "sla_threshold must be >= 0");
    if (q.escalation.size() > max_config_index) {
      fail(at + "more than " + std::to_string(max_config_index) + " escalation steps");
    }
    if (q.sla_target < 0 || q.sla_target > 1) fail(at + "sla_target must be within 0..1");
    for (std::size_t i = 0; i < q.escalation.size(); ++i) {
      const auto& s = q.escalation[i];
      const std::string st = at + "escalation step " + std::to_string(i) + ": ";
      if (s.after < 0) fail(st + "after must be >= 0");
      if (s.kind == escalation_kind::overflow && !known(s.target_queue)) {
        fail(st + "unknown target_queue '" + s.target_queue + "'");
      }
      if ((s.kind == escalation_kind::relax_proficiency || s.kind == escalation_kind::drop_skill) &&
          s.skill.empty()) {
        fail(st + "needs a skill");
      }
      if (s.kind == escalation_kind::relax_proficiency &&
          (s.min_proficiency < 1 || s.min_proficiency > 10)) {
        fail(st + "min_proficiency must be 1..10");
      }
    }
    if (q.max_wait && *q.max_wait < 0) fail(at + "max_wait must be >= 0");
    if (q.on_max_wait == expiry_action::overflow && !known(q.max_wait_target)) {
      fail(at + "unknown max_wait_target '" + q.max_wait_target + "'");
    }
  }
  if (config.rules.size() > max_config_index) {
    fail("more than " + std::to_string(max_config_index) + " classification rules");
  }
  for (const auto& r : config.rules) {
    const std::string at = "rule '" + r.name + "': ";
    if (!known(r.queue)) fail(at + "unknown queue '" + r.queue + "'");
    if (!r.match.regex.empty()) {
      try {
        std::regex re(r.match.regex, std::regex::ECMAScript | std::regex::icase);
      } catch (const std::regex_error& e) {
        fail(at + "invalid regex: " + e.what());
      }
    }
  }
  for (channel c : all_channels) {
    const auto& cc = config.channels[index_of(c)];
    const std::string at = "channel " + std::string(to_string(c)) + ": ";
    if (cc.default_capacity < 0) fail(at + "default_capacity must be >= 0");
    if (cc.accept_timeout <= 0) fail(at + "accept_timeout must be > 0");
    if (cc.wrap_up < 0) fail(at + "wrap_up must be >= 0");
    if (cc.default_handle_time <= 0) fail(at + "default_handle_time must be > 0");
  }
  if (config.affinity.window < 0 || config.affinity.timebox <= 0) {
    fail("affinity: window must be >= 0 and timebox > 0");
  }
  if (config.max_consecutive_misses < 1) fail("max_consecutive_misses must be >= 1");
  return errors;
}

}  // namespace omni::routing::engine
