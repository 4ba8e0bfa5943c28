#include "routing/sim/scenario.h"

#include <chrono>
#include <cstdio>

namespace omni::routing::sim {
namespace {

using engine::channel;
using std::chrono::milliseconds;

constexpr config::choice<channel> channel_names[] = {{"email", channel::email},
                                                     {"chat", channel::chat},
                                                     {"messenger", channel::messenger},
                                                     {"voice", channel::voice},
                                                     {"sms", channel::sms}};

constexpr config::choice<distribution_kind> distribution_names[] = {
    {"exponential", distribution_kind::exponential},
    {"lognormal", distribution_kind::lognormal},
    {"fixed", distribution_kind::fixed}};

// `key: 30s` (fixed) or `key: {distribution: exponential|lognormal|fixed, mean: 3m, sd: 1m}`.
distribution read_distribution(config::reader& r, std::string_view key, distribution fallback) {
  config::subtree tree = r.raw(key);
  if (tree.empty()) return fallback;
  config::reader d(tree, r.sink());
  if (d.node().IsScalar()) {
    if (auto v = d.as<milliseconds>()) return distribution::fixed(v->count());
    return fallback;
  }
  distribution out;
  out.kind = d.required_enum("distribution", distribution_names);
  out.mean_ms = static_cast<double>(d.required<milliseconds>("mean").count());
  if (out.kind == distribution_kind::lognormal) {
    out.sd_ms = static_cast<double>(d.required<milliseconds>("sd").count());
    if (out.sd_ms <= 0) d.error("sd", "must be > 0");
  }
  if (out.mean_ms < 0 || (out.kind != distribution_kind::fixed && out.mean_ms <= 0))
    d.error("mean", "must be > 0");
  d.finish();
  return out;
}

std::map<channel, int> read_capacity(config::reader& r) {
  std::map<channel, int> out;
  for (auto& [name, value] : r.entries("capacity")) {
    std::optional<channel> c = engine::parse_channel(name);
    if (!c) {
      value.error("'" + name + "' is not a channel (email, chat, messenger, voice, sms)");
      continue;
    }
    if (auto n = value.as<int>()) {
      if (*n < 0) value.error("capacity must be >= 0");
      out[*c] = *n;
    }
  }
  return out;
}

// "08:00" or "8:30" -> milliseconds since midnight.
std::optional<engine::duration> parse_clock(const std::string& s) {
  int h = 0, m = 0;
  char extra = 0;
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2) return std::nullopt;
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  return engine::hours(h) + engine::minutes(m);
}

arrival_stream read_stream(config::reader& a, std::size_t index) {
  arrival_stream s;
  s.name = a.optional<std::string>("name", "arrivals-" + std::to_string(index + 1));
  s.chan = a.required_enum("channel", channel_names);
  s.queue = a.optional<std::string>("queue");
  s.provider = a.optional<std::string>("provider", s.provider);
  s.to = a.optional<std::string>("to", "");
  s.subject = a.optional<std::string>("subject", "");
  s.text = a.optional<std::string>("text", "");
  s.language = a.optional<std::string>("language", "");
  s.customer_tier = a.optional<std::string>("tier", "");
  s.attributes = a.string_map("attributes");
  const bool has_rate = a.has("rate_per_hour"), has_rates = a.has("rates_per_hour");
  if (has_rate == has_rates) a.error("set exactly one of rate_per_hour and rates_per_hour");
  s.rate_per_hour = a.optional<double>("rate_per_hour", 0.0);
  if (s.rate_per_hour < 0) a.error("rate_per_hour", "must be >= 0");
  for (auto& v : a.list("rates_per_hour")) {
    auto rate = v.as<double>();
    if (rate && *rate < 0) v.error("must be >= 0");
    s.rates_per_hour.push_back(rate.value_or(0.0));
  }
  s.handle_time = read_distribution(a, "handle_time", s.handle_time);
  if (!s.handle_time.is_set()) a.error("handle_time", "is required");
  s.patience = read_distribution(a, "patience", distribution{});
  return s;
}

agent_group read_group(config::reader& g, engine::duration horizon) {
  agent_group out;
  out.name = g.required<std::string>("group");
  out.count = g.optional<int>("count", 1);
  if (out.count < 1 || out.count > 1'000'000) g.error("count", "must be 1..1000000");
  for (auto& [skill, value] : g.entries("skills")) {
    auto level = value.as<int>();
    if (!level) continue;
    if (*level < 1 || *level > 10) value.error("proficiency of '" + skill + "' must be 1..10");
    out.skills.push_back({skill, *level});
  }
  out.capacity = read_capacity(g);
  for (auto& s : g.list("shifts")) {
    shift sh;
    sh.start = s.required<milliseconds>("start").count();
    sh.end = s.optional<milliseconds>("end", milliseconds(horizon)).count();
    if (sh.end <= sh.start) s.error("end", "must be after start");
    if (!out.shifts.empty() && sh.start < out.shifts.back().end)
      s.error("start", "shifts must be in order and must not overlap");
    out.shifts.push_back(sh);
  }
  out.accept_delay = read_distribution(g, "accept_delay", out.accept_delay);
  out.recover_after =
      g.optional<milliseconds>("recover_after", milliseconds(out.recover_after)).count();
  return out;
}

}  // namespace

scenario parse_scenario(const config::subtree& tree, config::diagnostics& sink) {
  scenario s;
  s.source = tree.file;
  config::reader r(tree, sink);
  s.duration = r.optional<milliseconds>("duration", milliseconds(s.duration)).count();
  if (s.duration <= 0) r.error("duration", "must be > 0");
  s.warmup = r.optional<milliseconds>("warmup", milliseconds(s.warmup)).count();
  if (s.warmup < 0 || s.warmup >= s.duration) r.error("warmup", "must be shorter than duration");
  s.interval = r.optional<milliseconds>("interval", milliseconds(s.interval)).count();
  if (s.interval < engine::minutes(1)) r.error("interval", "must be at least 1m");
  if (auto seed = r.optional<std::int64_t>("seed")) s.seed = static_cast<std::uint64_t>(*seed);
  if (auto clock = r.optional<std::string>("clock_start")) {
    if (auto t = parse_clock(*clock))
      s.day_offset = *t;
    else
      r.error("clock_start", "expected a time of day such as \"08:00\"");
  }
  std::size_t index = 0;
  for (auto& a : r.list("arrivals")) s.arrivals.push_back(read_stream(a, index++));
  for (auto& g : r.list("agents")) s.agents.push_back(read_group(g, s.duration));
  if (r.has("replay")) {
    config::reader rp = r.child("replay");
    replay_source src;
    std::filesystem::path file = rp.required<std::string>("file");
    if (file.is_relative() && !s.source.empty())
      file = std::filesystem::path(s.source).parent_path() / file;
    src.file = file;
    src.handle_time = read_distribution(rp, "handle_time", src.handle_time);
    src.accept_delay = read_distribution(rp, "accept_delay", src.accept_delay);
    src.patience = read_distribution(rp, "patience", src.patience);
    s.replay = src;
  }
  for (auto& [name, c] : r.entries("channels")) {
    auto ch = engine::parse_channel(name);
    if (!ch) {
      c.error("'" + name + "' is not a channel (email, chat, messenger, voice, sms)");
      continue;
    }
    channel_override o;
    if (auto w = c.optional<milliseconds>("wrap_up")) o.wrap_up = w->count();
    o.auto_accept = c.optional<bool>("auto_accept");
    if (auto t = c.optional<milliseconds>("accept_timeout")) o.accept_timeout = t->count();
    s.channels[*ch] = o;
  }
  if (s.arrivals.empty() && !s.replay) r.error("a scenario needs `arrivals` or `replay`");
  if (s.agents.empty() && !s.replay) r.error("agents", "a scenario needs at least one agent group");
  // Agent ids must be unique across groups.
  std::map<std::string, int> names;
  for (const auto& g : s.agents)
    if (++names[g.name] == 2) r.error("agents", "group '" + g.name + "' is listed twice");
  r.finish();
  return s;
}

std::optional<scenario> load_scenario(const std::filesystem::path& path,
                                      config::diagnostics& sink) {
  const std::size_t before = sink.size();
  auto tree = config::parse_yaml_file(path, sink);
  if (!tree) return std::nullopt;
  scenario s = parse_scenario(*tree, sink);
  if (sink.size() != before) return std::nullopt;
  return s;
}

engine::engine_config apply_overrides(engine::engine_config config, const scenario& s) {
  for (const auto& [ch, o] : s.channels) {
    auto& c = config.channels[engine::index_of(ch)];
    if (o.wrap_up) c.wrap_up = *o.wrap_up;
    if (o.auto_accept) c.auto_accept = *o.auto_accept;
    if (o.accept_timeout) c.accept_timeout = *o.accept_timeout;
  }
  return config;
}

}  // namespace omni::routing::sim
