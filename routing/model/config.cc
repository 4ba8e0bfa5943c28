#include "routing/model/config.h"

#include <algorithm>
#include <chrono>
#include <sstream>

namespace omni::routing::model {
namespace {

using engine::channel;

constexpr config::choice<channel> channel_names[] = {{"email", channel::email},
                                                     {"chat", channel::chat},
                                                     {"messenger", channel::messenger},
                                                     {"voice", channel::voice},
                                                     {"sms", channel::sms}};

constexpr config::choice<engine::strategy> strategy_names[] = {
    {"longest_idle", engine::strategy::longest_idle},
    {"least_occupied", engine::strategy::least_occupied},
    {"most_skilled", engine::strategy::most_skilled},
    {"round_robin", engine::strategy::round_robin}};

constexpr config::choice<engine::expiry_action> expiry_names[] = {
    {"expire", engine::expiry_action::expire}, {"overflow", engine::expiry_action::overflow}};

engine::duration ms(std::chrono::milliseconds d) { return d.count(); }

std::optional<channel> channel_of(const std::string& name) {
  for (const auto& c : channel_names)
    if (c.name == name) return c.value;
  return std::nullopt;
}

std::vector<channel> read_channels(config::reader& r, std::string_view key) {
  std::vector<channel> out;
  for (auto& element : r.list(key))
    if (auto c = element.as_enum(channel_names)) out.push_back(*c);
  return out;
}

// skills: {billing: 5, support: 3}  (skill -> proficiency 1..10)
std::vector<engine::skill_level> read_skills(config::reader& r, std::string_view key) {
  std::vector<engine::skill_level> out;
  for (auto& [name, value] : r.entries(key)) {
    auto level = value.as<int>();
    if (!level) continue;
    if (*level < 1 || *level > 10) {
      value.error("proficiency of '" + name + "' must be 1..10");
      continue;
    }
    out.push_back({name, *level});
  }
  return out;
}

// capacity: {chat: 3, email: 5}
std::map<channel, int> read_capacity(config::reader& r, std::string_view key) {
  std::map<channel, int> out;
  for (auto& [name, value] : r.entries(key)) {
    auto c = channel_of(name);
    if (!c) {
      value.error("'" + name + "' is not a channel (email, chat, messenger, voice, sms)");
      continue;
    }
    auto n = value.as<int>();
    if (!n) continue;
    if (*n < 0 || *n > 10000) {
      value.error("capacity must be 0..10000");
      continue;
    }
    out[*c] = *n;
  }
  return out;
}

void parse_escalation(config::reader& q, engine::queue_config& out) {
  for (auto& step : q.list("escalation")) {
    engine::escalation_step s;
    s.after = ms(step.required<std::chrono::milliseconds>("after"));
    int kinds = 0;
    if (auto skill = step.optional<std::string>("relax")) {
      s.kind = engine::escalation_kind::relax_proficiency;
      s.skill = *skill;
      s.min_proficiency = step.optional<int>("min", 1);
      ++kinds;
    } else {
      step.accept("min");
    }
    if (auto skill = step.optional<std::string>("drop")) {
      s.kind = engine::escalation_kind::drop_skill;
      s.skill = *skill;
      ++kinds;
    }
    if (auto target = step.optional<std::string>("overflow")) {
      s.kind = engine::escalation_kind::overflow;
      s.target_queue = *target;
      ++kinds;
    }
    if (auto delta = step.optional<int>("raise_priority")) {
      s.kind = engine::escalation_kind::raise_priority;
      s.priority_delta = *delta;
      ++kinds;
    }
    if (kinds != 1)
      step.error("needs exactly one of relax (with min), drop, overflow, raise_priority");
    out.escalation.push_back(std::move(s));
  }
  std::stable_sort(out.escalation.begin(), out.escalation.end(),
                   [](const auto& a, const auto& b) { return a.after < b.after; });
}

void parse_queue(const std::string& name, config::reader& q, routing_model& m,
                 const queue_keys& on_queue) {
  engine::queue_config out;
  out.name = name;
  for (auto& [skill, value] : q.entries("skills")) {
    auto level = value.as<int>();
    if (!level) continue;
    if (*level < 1 || *level > 10) value.error("minimum proficiency must be 1..10");
    out.required_skills.push_back({skill, *level});
  }
  out.channels = read_channels(q, "channels");
  out.base_priority = q.optional<int>("priority", 0);
  config::reader sla = q.child("sla");
  out.sla_threshold = ms(sla.optional<std::chrono::milliseconds>(
      "within", std::chrono::milliseconds(out.sla_threshold)));
  out.sla_target = sla.optional<double>("target", out.sla_target);
  if (out.sla_target < 0 || out.sla_target > 1)
    sla.error("target", "must be within 0..1 (0.8 = 80%)");
  parse_escalation(q, out);
  if (auto w = q.optional<std::chrono::milliseconds>("max_wait")) out.max_wait = ms(*w);
  out.on_max_wait = q.optional_enum("on_max_wait", expiry_names, out.on_max_wait);
  out.max_wait_target = q.optional<std::string>("max_wait_target", "");
  out.agent_strategy = q.optional_enum("strategy", strategy_names, out.agent_strategy);
  out.affinity = q.optional<bool>("affinity", true);
  if (on_queue) on_queue(name, q);
  m.engine.queues.push_back(std::move(out));
}

void parse_rule(config::reader& r, routing_model& out) {
  engine::classification_rule rule;
  rule.name = r.required<std::string>("name");
  rule.queue = r.required<std::string>("queue");
  rule.priority = r.optional<int>("priority", 0);
  config::reader m = r.child("match");
  rule.match.channels = read_channels(m, "channels");
  rule.match.providers = m.optional<std::vector<std::string>>("providers", {});
  rule.match.to = m.optional<std::vector<std::string>>("to", {});
  rule.match.keywords = m.optional<std::vector<std::string>>("keywords", {});
  rule.match.regex = m.optional<std::string>("regex", "");
  rule.match.languages = m.optional<std::vector<std::string>>("languages", {});
  rule.match.customer_tiers = m.optional<std::vector<std::string>>("tiers", {});
  rule.match.attributes = m.string_map("attributes");
  out.engine.rules.push_back(std::move(rule));
}

void parse_channels(config::reader& r, routing_model& m) {
  for (auto& [name, c] : r.entries("channels")) {
    auto ch = channel_of(name);
    if (!ch) {
      c.error("'" + name + "' is not a channel (email, chat, messenger, voice, sms)");
      continue;
    }
    auto& out = m.engine.channels[engine::index_of(*ch)];
    out.default_capacity = c.optional<int>("capacity", out.default_capacity);
    if (out.default_capacity < 0) c.error("capacity", "must be >= 0");
    out.accept_timeout = ms(c.optional<std::chrono::milliseconds>(
        "accept_timeout", std::chrono::milliseconds(out.accept_timeout)));
    out.auto_accept = c.optional<bool>("auto_accept", out.auto_accept);
    out.wrap_up = ms(
        c.optional<std::chrono::milliseconds>("wrap_up", std::chrono::milliseconds(out.wrap_up)));
    out.default_handle_time = ms(c.optional<std::chrono::milliseconds>(
        "handle_time", std::chrono::milliseconds(out.default_handle_time)));
  }
}

void parse_agents(config::reader& r, routing_model& m) {
  for (auto& [id, a] : r.entries("agents")) {
    agent_profile p;
    p.display_name = a.optional<std::string>("name", id);
    p.skills = read_skills(a, "skills");
    p.capacity = read_capacity(a, "capacity");
    m.agents[id] = std::move(p);
  }
}

}  // namespace

routing_model default_model() {
  routing_model m;
  engine::queue_config q;
  q.name = "default";
  m.engine.queues.push_back(q);
  m.engine.default_queue = "default";
  return m;
}

routing_model read(config::reader& r, const queue_keys& on_queue) {
  routing_model m;
  for (auto& [name, q] : r.entries("queues")) parse_queue(name, q, m, on_queue);
  for (auto& rule : r.list("rules")) parse_rule(rule, m);
  m.engine.default_queue = r.optional<std::string>("default_queue", "");
  if (m.engine.default_queue.empty()) {
    if (m.engine.queues.empty())
      m = default_model();
    else
      m.engine.default_queue = m.engine.queues.front().name;
  }
  parse_channels(r, m);
  config::reader affinity = r.child("affinity");
  m.engine.affinity.enabled = affinity.optional<bool>("enabled", m.engine.affinity.enabled);
  m.engine.affinity.window = ms(affinity.optional<std::chrono::milliseconds>(
      "window", std::chrono::milliseconds(m.engine.affinity.window)));
  m.engine.affinity.timebox = ms(affinity.optional<std::chrono::milliseconds>(
      "timebox", std::chrono::milliseconds(m.engine.affinity.timebox)));
  for (auto& [tier, value] : r.entries("tier_priority"))
    if (auto p = value.as<int>()) m.engine.tier_priority[tier] = *p;
  m.engine.max_consecutive_misses =
      r.optional<int>("max_consecutive_misses", m.engine.max_consecutive_misses);
  m.engine.requeue_assigned_on_logout =
      r.optional<bool>("requeue_assigned_on_logout", m.engine.requeue_assigned_on_logout);
  parse_agents(r, m);
  return m;
}

void check(config::reader& r, const engine::engine_config& engine) {
  std::istringstream problems(engine::validate(engine));
  for (std::string line; std::getline(problems, line);)
    if (!line.empty()) r.error(line);
}

}  // namespace omni::routing::model
