#include "routing/service/step.h"

#include <nlohmann/json.hpp>

#include "core/events/codec.h"

namespace omni::routing::service {
namespace {

using nlohmann::json;
namespace eng = engine;

json skills_json(const std::vector<eng::skill_level>& skills) {
  json out = json::array();
  for (const auto& s : skills) out.push_back({s.skill, s.proficiency});
  return out;
}

std::vector<eng::skill_level> skills_of(const json& j) {
  std::vector<eng::skill_level> out;
  for (const auto& s : j) out.push_back({s.at(0).get<std::string>(), s.at(1).get<int>()});
  return out;
}

json capacity_json(const std::map<eng::channel, int>& c) {
  json out = json::object();
  for (const auto& [ch, n] : c) out[std::string(eng::to_string(ch))] = n;
  return out;
}

std::map<eng::channel, int> capacity_of(const json& j) {
  std::map<eng::channel, int> out;
  for (const auto& [k, v] : j.items())
    if (auto ch = eng::parse_channel(k)) out[*ch] = v.get<int>();
  return out;
}

eng::channel channel_of(const json& j) {
  auto c = eng::parse_channel(j.get<std::string>());
  if (!c) throw std::invalid_argument("bad channel");
  return *c;
}

eng::presence presence_of(const json& j) {
  auto p = eng::parse_presence(j.get<std::string>());
  if (!p) throw std::invalid_argument("bad presence");
  return *p;
}

json input_json(const eng::input_event& in) {
  return std::visit(
      [](const auto& e) -> json {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, eng::agent_login>) {
          return {{"k", "login"},
                  {"agent", e.agent},
                  {"skills", skills_json(e.skills)},
                  {"capacity", capacity_json(e.capacity)},
                  {"presence", eng::to_string(e.initial)}};
        } else if constexpr (std::is_same_v<T, eng::agent_logout>) {
          return {{"k", "logout"}, {"agent", e.agent}};
        } else if constexpr (std::is_same_v<T, eng::presence_change>) {
          return {{"k", "presence"}, {"agent", e.agent}, {"presence", eng::to_string(e.to)}};
        } else if constexpr (std::is_same_v<T, eng::agent_update>) {
          json j{{"k", "update"}, {"agent", e.agent}, {"capacity", capacity_json(e.capacity)}};
          if (e.skills) j["skills"] = skills_json(*e.skills);
          return j;
        } else if constexpr (std::is_same_v<T, eng::contact_arrived>) {
          const auto& c = e.item;
          json item{{"id", c.id},
                    {"channel", eng::to_string(c.chan)},
                    {"provider", c.provider},
                    {"to", c.to},
                    {"subject", c.subject},
                    {"text", c.text},
                    {"language", c.language},
                    {"customer", c.customer_id},
                    {"tier", c.customer_tier},
                    {"attributes", c.attributes},
                    {"boost", c.priority_boost}};
          json j{{"k", "arrived"}, {"contact", std::move(item)}};
          if (e.queue) j["queue"] = *e.queue;
          if (e.priority) j["priority"] = *e.priority;
          if (e.last_agent) j["hint"] = {e.last_agent->agent, e.last_agent->at};
          return j;
        } else if constexpr (std::is_same_v<T, eng::offer_accepted>) {
          return {{"k", "accepted"}, {"contact", e.contact}, {"agent", e.agent}};
        } else if constexpr (std::is_same_v<T, eng::offer_rejected>) {
          return {{"k", "rejected"}, {"contact", e.contact}, {"agent", e.agent}};
        } else if constexpr (std::is_same_v<T, eng::offer_timed_out>) {
          return {{"k", "timed_out"}, {"contact", e.contact}, {"agent", e.agent}};
        } else if constexpr (std::is_same_v<T, eng::contact_completed>) {
          return {{"k", "completed"},
                  {"contact", e.contact},
                  {"agent", e.agent},
                  {"disposition", e.disposition}};
        } else {
          static_assert(std::is_same_v<T, eng::contact_abandoned>);
          return {{"k", "abandoned"}, {"contact", e.contact}};
        }
      },
      in);
}

eng::input_event input_of(const json& j) {
  const std::string k = j.at("k").get<std::string>();
  auto str = [&](const char* key) { return j.at(key).get<std::string>(); };
  if (k == "login")
    return eng::agent_login{str("agent"), skills_of(j.at("skills")), capacity_of(j.at("capacity")),
                            presence_of(j.at("presence"))};
  if (k == "logout") return eng::agent_logout{str("agent")};
  if (k == "presence") return eng::presence_change{str("agent"), presence_of(j.at("presence"))};
  if (k == "update") {
    eng::agent_update u{str("agent"), std::nullopt, capacity_of(j.at("capacity"))};
    if (j.contains("skills")) u.skills = skills_of(j.at("skills"));
    return u;
  }
  if (k == "arrived") {
    const json& c = j.at("contact");
    eng::contact_arrived a;
    a.item.id = c.at("id").get<std::string>();
    a.item.chan = channel_of(c.at("channel"));
    a.item.provider = c.at("provider").get<std::string>();
    a.item.to = c.at("to").get<std::string>();
    a.item.subject = c.at("subject").get<std::string>();
    a.item.text = c.at("text").get<std::string>();
    a.item.language = c.at("language").get<std::string>();
    a.item.customer_id = c.at("customer").get<std::string>();
    a.item.customer_tier = c.at("tier").get<std::string>();
    a.item.attributes = c.at("attributes").get<std::map<std::string, std::string>>();
    a.item.priority_boost = c.at("boost").get<int>();
    if (j.contains("queue")) a.queue = j.at("queue").get<std::string>();
    if (j.contains("priority")) a.priority = j.at("priority").get<int>();
    if (j.contains("hint"))
      a.last_agent = eng::history_hint{j.at("hint").at(0).get<std::string>(),
                                       j.at("hint").at(1).get<eng::timestamp>()};
    return a;
  }
  if (k == "accepted") return eng::offer_accepted{str("contact"), str("agent")};
  if (k == "rejected") return eng::offer_rejected{str("contact"), str("agent")};
  if (k == "timed_out") return eng::offer_timed_out{str("contact"), str("agent")};
  if (k == "completed")
    return eng::contact_completed{str("contact"), str("agent"), str("disposition")};
  if (k == "abandoned") return eng::contact_abandoned{str("contact")};
  throw std::invalid_argument("unknown input kind '" + k + "'");
}

}  // namespace

std::string encode_step(const step& s) {
  json j{{"v", 1}, {"now", s.now}};
  json inputs = json::array();
  for (const auto& in : s.inputs) inputs.push_back(input_json(in));
  j["inputs"] = std::move(inputs);
  if (!s.arrivals.empty()) {
    json arrivals = json::array();
    for (const auto& m : s.arrivals)
      arrivals.push_back({{"id", m.id},
                          {"customer", m.customer_id},
                          {"name", m.display_name},
                          {"channel", m.channel},
                          {"provider", m.provider},
                          {"conversation", m.conversation},
                          {"subject", m.subject},
                          {"snippet", m.snippet},
                          {"recipient", {m.recipient.kind, m.recipient.value}},
                          {"history", m.history}});
    j["arrivals"] = std::move(arrivals);
  }
  if (s.message)
    j["message"] = {{"id", s.message->message_id},
                    {"contact", s.message->contact},
                    {"agent", s.message->agent},
                    {"subject", s.message->subject},
                    {"text", s.message->text}};
  if (!s.seen.empty()) j["seen"] = s.seen;
  if (!s.finished.empty()) j["finished"] = s.finished;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

core::result<step> decode_step(std::string_view text) {
  try {
    json j = json::parse(text);
    step s;
    s.now = j.at("now").get<engine::timestamp>();
    for (const auto& in : j.at("inputs")) s.inputs.push_back(input_of(in));
    if (j.contains("arrivals")) {
      for (const auto& m : j.at("arrivals")) {
        contact_meta c;
        c.id = m.at("id").get<std::string>();
        c.customer_id = m.at("customer").get<std::string>();
        c.display_name = m.at("name").get<std::string>();
        c.channel = m.at("channel").get<std::string>();
        c.provider = m.at("provider").get<std::string>();
        c.conversation = m.at("conversation").get<std::string>();
        c.subject = m.at("subject").get<std::string>();
        c.snippet = m.at("snippet").get<std::string>();
        c.recipient = {m.at("recipient").at(0).get<std::string>(),
                       m.at("recipient").at(1).get<std::string>()};
        c.history = m.at("history").get<std::string>();
        s.arrivals.push_back(std::move(c));
      }
    }
    if (j.contains("message")) {
      const json& m = j.at("message");
      s.message = follow_up{m.at("id").get<std::string>(), m.at("contact").get<std::string>(),
                            m.at("agent").get<std::string>(), m.at("subject").get<std::string>(),
                            m.at("text").get<std::string>()};
    }
    if (j.contains("seen")) s.seen = j.at("seen").get<std::vector<std::string>>();
    if (j.contains("finished")) s.finished = j.at("finished").get<std::vector<std::string>>();
    return s;
  } catch (const std::exception& e) {
    return core::error{std::string("bad changelog step: ") + e.what(), "attributes.step"};
  }
}

std::string cut_utf8(std::string_view text, std::size_t max) {
  return std::string(core::utf8_prefix(text, max));
}

}  // namespace omni::routing::service
