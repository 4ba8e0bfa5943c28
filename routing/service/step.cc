#include "routing/service/step.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/events/codec.h"
#include "core/events/json_writer.h"
#include "core/json/parse.h"

namespace omni::routing::service {
namespace {

using nlohmann::json;
namespace eng = engine;

void write_skills(core::json_writer& w, const std::vector<eng::skill_level>& skills) {
  w.begin_array();
  for (const auto& s : skills) w.begin_array().value(s.skill).value(s.proficiency).end_array();
  w.end_array();
}

std::vector<eng::skill_level> skills_of(const json& j) {
  std::vector<eng::skill_level> out;
  for (const auto& s : j) out.push_back({s.at(0).get<std::string>(), s.at(1).get<int>()});
  return out;
}

// nlohmann orders an object's keys by name, not by the channel enum.
void write_capacity(core::json_writer& w, const std::map<eng::channel, int>& c) {
  std::vector<std::pair<std::string_view, int>> sorted;
  for (const auto& [ch, n] : c) sorted.emplace_back(eng::to_string(ch), n);
  std::sort(sorted.begin(), sorted.end());
  w.begin_object();
  for (const auto& [name, n] : sorted) w.member(name, n);
  w.end_object();
}

void write_strings(core::json_writer& w, const std::vector<std::string>& v) {
  w.begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
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

// Members in sorted order (core::json_writer).
void write_input(core::json_writer& w, const eng::input_event& in) {
  w.begin_object();
  std::visit(
      [&w](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, eng::agent_login>) {
          w.member("agent", e.agent);
          write_capacity(w.key("capacity"), e.capacity);
          w.member("k", "login").member("presence", eng::to_string(e.initial));
          write_skills(w.key("skills"), e.skills);
        } else if constexpr (std::is_same_v<T, eng::agent_logout>) {
          w.member("agent", e.agent).member("k", "logout");
        } else if constexpr (std::is_same_v<T, eng::presence_change>) {
          w.member("agent", e.agent)
              .member("k", "presence")
              .member("presence", eng::to_string(e.to));
        } else if constexpr (std::is_same_v<T, eng::agent_update>) {
          w.member("agent", e.agent);
          write_capacity(w.key("capacity"), e.capacity);
          w.member("k", "update");
          if (e.skills) write_skills(w.key("skills"), *e.skills);
        } else if constexpr (std::is_same_v<T, eng::contact_arrived>) {
          const auto& c = e.item;
          w.key("contact").begin_object().key("attributes").begin_object();
          for (const auto& [k, v] : c.attributes) w.member(k, v);
          w.end_object()
              .member("boost", c.priority_boost)
              .member("channel", eng::to_string(c.chan))
              .member("customer", c.customer_id)
              .member("id", c.id)
              .member("language", c.language)
              .member("provider", c.provider)
              .member("subject", c.subject)
              .member("text", c.text)
              .member("tier", c.customer_tier)
              .member("to", c.to)
              .end_object();
          if (e.last_agent)
            w.key("hint")
                .begin_array()
                .value(e.last_agent->agent)
                .value(static_cast<std::int64_t>(e.last_agent->at))
                .end_array();
          w.member("k", "arrived");
          if (e.priority) w.member("priority", *e.priority);
          if (e.queue) w.member("queue", *e.queue);
        } else if constexpr (std::is_same_v<T, eng::offer_accepted>) {
          w.member("agent", e.agent).member("contact", e.contact).member("k", "accepted");
        } else if constexpr (std::is_same_v<T, eng::offer_rejected>) {
          w.member("agent", e.agent).member("contact", e.contact).member("k", "rejected");
        } else if constexpr (std::is_same_v<T, eng::offer_timed_out>) {
          w.member("agent", e.agent).member("contact", e.contact).member("k", "timed_out");
        } else if constexpr (std::is_same_v<T, eng::contact_completed>) {
          w.member("agent", e.agent)
              .member("contact", e.contact)
              .member("disposition", e.disposition)
              .member("k", "completed");
        } else {
          static_assert(std::is_same_v<T, eng::contact_abandoned>);
          w.member("contact", e.contact).member("k", "abandoned");
        }
      },
      in);
  w.end_object();
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
  // Streamed (core::json_writer), keys in sorted order: the same text nlohmann's dump of the tree
  // gave.
  core::json_writer w(512);
  w.begin_object();
  if (!s.arrivals.empty()) {
    w.key("arrivals").begin_array();
    for (const auto& m : s.arrivals) {
      w.begin_object()
          .member("channel", m.channel)
          .member("conversation", m.conversation)
          .member("customer", m.customer_id)
          .member("history", m.history)
          .member("id", m.id)
          .member("name", m.display_name)
          .member("provider", m.provider);
      w.key("recipient").begin_array().value(m.recipient.kind).value(m.recipient.value).end_array();
      w.member("snippet", m.snippet).member("subject", m.subject).end_object();
    }
    w.end_array();
  }
  if (!s.finished.empty()) write_strings(w.key("finished"), s.finished);
  w.key("inputs").begin_array();
  for (const auto& in : s.inputs) write_input(w, in);
  w.end_array();
  if (s.message)
    w.key("message")
        .begin_object()
        .member("agent", s.message->agent)
        .member("contact", s.message->contact)
        .member("id", s.message->message_id)
        .member("subject", s.message->subject)
        .member("text", s.message->text)
        .end_object();
  w.member("now", static_cast<std::int64_t>(s.now));
  if (!s.seen.empty()) write_strings(w.key("seen"), s.seen);
  w.member("v", 1).end_object();
  return w.take();
}

core::result<step> decode_step(std::string_view text) {
  auto parsed = core::parse_json(text);
  if (!parsed) return core::error{"bad changelog step: " + parsed.err().message, "attributes.step"};
  try {
    const json& j = *parsed;
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
