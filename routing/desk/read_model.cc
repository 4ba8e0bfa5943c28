#include "routing/desk/read_model.h"

#include <algorithm>

#include "core/events/codec.h"
#include "core/json/parse.h"

namespace omni::routing::desk {
namespace {

using nlohmann::json;

constexpr std::size_t max_decisions_per_contact = 200;
constexpr std::size_t max_messages_per_contact = 500;
constexpr std::size_t max_contacts_per_customer = 50;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json reason_json(const core::decision_reason& r) {
  return {{"rule", r.rule},
          {"strategy", r.strategy},
          {"escalation_step", r.escalation_step},
          {"candidates", r.candidates},
          {"affinity", r.affinity},
          {"text", r.text}};
}

json parse_array(const std::string& text) {
  auto j = core::parse_json(text);
  return j && j->is_array() ? std::move(*j) : json::array();
}

json parse_any(const std::string& text) {
  auto j = core::parse_json(text);
  return j ? std::move(*j) : json::array();
}

json message_json(const read_model::message_entry& m) {
  json j{{"id", m.id}, {"from", m.from}, {"text", m.text}, {"at", core::format_timestamp(m.at)}};
  if (!m.subject.empty()) j["subject"] = m.subject;
  if (!m.agent.empty()) j["agent_id"] = m.agent;
  return j;
}

}  // namespace

std::string attribute(const std::map<std::string, std::string>& attrs,
                      std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (auto it = attrs.find(std::string(n)); it != attrs.end()) return it->second;
  return {};
}

core::offer_details offer_details_of(const std::map<std::string, std::string>& attrs) {
  auto get = [&](const char* name) { return attribute(attrs, {name}); };
  core::offer_details d;
  d.customer_id = get("customer_id");
  d.display_name = get("display_name");
  d.channel = get("channel");
  d.provider = get("provider");
  d.conversation = get("conversation");
  d.subject = get("subject");
  d.snippet = get("snippet");
  d.text = get("text");
  d.text_truncated = get("text_truncated") == "true";
  d.recipient = {get("recipient_kind"), get("recipient_value")};
  d.history = get("history");
  return d;
}

bool read_model::seen(const std::string& id) {
  if (id.empty()) return false;
  return !seen_.insert(id);
}

read_model::contact_view& read_model::contact_for(const core::assignment& a) {
  auto [it, fresh] = contacts_.try_emplace(a.contact_id);
  contact_view& c = it->second;
  if (fresh) {
    c.id = a.contact_id;
    c.domain = a.domain;
  }
  if (!a.queue.empty()) c.queue = a.queue;
  if (a.priority) c.priority = a.priority;
  // Contact details ride on offers (and on assign, for auto-accepted channels); fill what is new.
  // The record's own details, not a copy (its text is up to 8 KiB); older records' from attributes.
  core::offer_details legacy;
  const core::offer_details& d = a.contact ? *a.contact : (legacy = offer_details_of(a.attributes));
  auto fill = [](std::string& field, const std::string& value) {
    if (!value.empty()) field = value;
  };
  fill(c.customer_id, d.customer_id);
  fill(c.display_name, d.display_name);
  fill(c.channel, d.channel);
  fill(c.provider, d.provider);
  fill(c.conversation, d.conversation);
  fill(c.subject, d.subject);
  fill(c.recipient.kind, d.recipient.kind);
  fill(c.recipient.value, d.recipient.value);
  fill(c.history, d.history);
  if (const auto& text = d.text.empty() ? d.snippet : d.text; !text.empty() && c.messages.empty())
    c.messages.push_back({c.id, "customer", "", c.subject, text, a.at});
  if (!c.customer_id.empty()) {
    auto& [history, ids] = customers_[c.customer_id];
    if (c.history != "[]" || history.empty()) history = c.history;
    if (std::find(ids.begin(), ids.end(), c.id) == ids.end()) {
      ids.push_back(c.id);
      if (ids.size() > max_contacts_per_customer) ids.erase(ids.begin());
    }
  }
  return c;
}

void read_model::finish(contact_view& c, const std::string& state) {
  c.state = state;
  c.offered_to.clear();
  c.offer_deadline.reset();
  if (!c.finished) {
    c.finished = true;
    finished_order_.push_back(c.id);
  }
  trim_finished();
}

void read_model::trim_finished() {
  while (finished_order_.size() > contacts_kept_) {
    auto it = contacts_.find(finished_order_.front());
    if (it != contacts_.end() && it->second.finished) {
      forget_customer_contact(it->second.customer_id, it->first);
      contacts_.erase(it);
    }
    finished_order_.pop_front();
  }
}

// A customer is kept while one of their contacts is: the map is bounded by the contacts kept,
// not by every customer the node has ever seen.
void read_model::forget_customer_contact(const std::string& customer, const std::string& contact) {
  auto it = customers_.find(customer);
  if (it == customers_.end()) return;
  auto& ids = it->second.second;
  ids.erase(std::remove(ids.begin(), ids.end(), contact), ids.end());
  if (ids.empty()) customers_.erase(it);
}

std::string read_model::offer_message(const contact_view& c, std::string_view type) const {
  json conversation = json::array();
  for (const auto& m : c.messages) conversation.push_back(message_json(m));
  json j{{"type", type},
         {"offer_id", c.offer_id},
         {"contact_id", c.id},
         {"domain", c.domain},
         {"queue", c.queue},
         {"contact",
          {{"id", c.id},
           {"customer_id", c.customer_id},
           {"display_name", c.display_name},
           {"channel", c.channel},
           {"provider", c.provider},
           {"conversation", c.conversation},
           {"subject", c.subject}}},
         {"conversation", std::move(conversation)},
         {"history", parse_array(c.history)},
         {"reason", reason_json(c.offer_reason)}};
  if (c.priority) j["priority"] = *c.priority;
  if (c.offer_deadline) j["deadline"] = core::format_timestamp(*c.offer_deadline);
  return dump(j);
}

std::vector<push> read_model::apply(const core::assignment& a) {
  std::lock_guard lock(mutex_);
  std::vector<push> out;
  if (a.type == "input" || a.type == "tick") return out;
  if (seen(a.id)) return out;

  if (a.type == "stats") {
    json s{{"at", core::format_timestamp(a.at)},
           {"queues", parse_any(core::joined_attribute(a.attributes, "queues"))},
           {"agents", parse_any(core::joined_attribute(a.attributes, "agents"))}};
    json msg{{"type", "stats"},
             {"domain", a.domain},
             {"at", s["at"]},
             {"queues", s["queues"]},
             {"agents", s["agents"]}};
    stats_[a.domain] = std::move(s);
    out.push_back({a.domain, "", dump(msg)});
    return out;
  }
  if (a.type == "agent_state") {
    auto& ag = agents_[a.agent_id];
    ag.id = a.agent_id;
    ag.domain = a.domain;
    std::string presence = attribute(a.attributes, {"presence"});
    if (presence.empty()) presence = "not_responding";
    ag.presence = presence;
    ag.since = a.at;
    out.push_back({a.domain, a.agent_id,
                   dump({{"type", "presence"},
                         {"presence", presence},
                         {"by", "router"},
                         {"reason", a.reason.text}})});
    return out;
  }
  if (a.contact_id.empty()) return out;

  if (a.type == "message") {
    auto it = contacts_.find(a.contact_id);
    contact_view& c = it != contacts_.end() ? it->second : contact_for(a);
    message_entry m{a.id,
                    "customer",
                    "",
                    attribute(a.attributes, {"subject"}),
                    attribute(a.attributes, {"text"}),
                    a.at};
    std::string holder = !a.agent_id.empty()      ? a.agent_id
                         : !c.assigned_to.empty() ? c.assigned_to
                                                  : c.offered_to;
    if (!holder.empty())
      out.push_back(
          {c.domain, holder,
           dump({{"type", "message"}, {"contact_id", c.id}, {"message", message_json(m)}})});
    c.messages.push_back(std::move(m));
    if (c.messages.size() > max_messages_per_contact) c.messages.erase(c.messages.begin());
    return out;
  }

  contact_view& c = contact_for(a);
  c.decisions.push_back(
      {a.id, a.type, a.agent_id, a.queue, a.seq, a.at, a.deadline, a.priority, a.reason});
  if (c.decisions.size() > max_decisions_per_contact) c.decisions.erase(c.decisions.begin());

  auto revoke = [&](const std::string& agent, std::string_view why) {
    if (agent.empty()) return;
    out.push_back({c.domain, agent,
                   dump({{"type", "revoke"},
                         {"contact_id", c.id},
                         {"reason", why},
                         {"text", a.reason.text}})});
  };

  if (a.type == "offer") {
    if (!c.offered_to.empty() && c.offered_to != a.agent_id) revoke(c.offered_to, "reoffered");
    c.state = "offered";
    c.finished = false;
    c.offered_to = a.agent_id;
    c.offer_id = a.id;
    c.offer_deadline = a.deadline;
    c.offer_reason = a.reason;
    c.accepted_by.clear();
    if (!a.agent_id.empty()) c.agents.insert(a.agent_id);
    if (!a.agent_id.empty()) out.push_back({c.domain, a.agent_id, offer_message(c, "offer")});
  } else if (a.type == "assign") {
    if (!c.offered_to.empty() && c.offered_to != a.agent_id) revoke(c.offered_to, "reassigned");
    c.state = "assigned";
    c.assigned_to = a.agent_id;
    c.offered_to.clear();
    c.offer_deadline.reset();
    if (c.offer_id.empty()) c.offer_id = a.id;
    if (c.offer_reason.text.empty()) c.offer_reason = a.reason;
    if (!a.agent_id.empty()) {
      c.agents.insert(a.agent_id);
      out.push_back({c.domain, a.agent_id, offer_message(c, "assigned")});
    }
  } else if (a.type == "revoke") {
    std::string agent = a.agent_id.empty() ? c.offered_to : a.agent_id;
    revoke(agent, "revoked");
    if (c.offered_to == agent) {
      c.offered_to.clear();
      c.offer_deadline.reset();
      c.accepted_by.clear();
      if (c.state == "offered") c.state = "waiting";
    }
  } else if (a.type == "requeue" || a.type == "overflow" || a.type == "escalate") {
    if (a.type == "requeue") {
      revoke(c.offered_to, "requeued");
      if (c.assigned_to != c.offered_to) revoke(c.assigned_to, "requeued");
      c.offered_to.clear();
      c.assigned_to.clear();
      c.accepted_by.clear();
      c.offer_deadline.reset();
      c.state = "waiting";
    }
  } else if (a.type == "abandon" || a.type == "expire") {
    const std::string why = a.type == "abandon" ? "abandoned" : "expired";
    revoke(c.offered_to, why);
    if (c.assigned_to != c.offered_to) revoke(c.assigned_to, why);
    finish(c, why);
  } else if (a.type == "complete") {
    finish(c, "completed");
  }
  return out;
}

std::vector<push> read_model::apply(const core::agent_event& e) {
  std::lock_guard lock(mutex_);
  std::vector<push> out;
  if (seen("agent-event:" + e.id)) return out;
  auto& ag = agents_[e.agent_id];
  ag.id = e.agent_id;
  ag.domain = e.domain;
  if (auto n = e.attributes.find("display_name"); n != e.attributes.end())
    ag.display_name = n->second;
  switch (e.type) {
    case core::agent_event_type::login:
      ag.logged_in = true;
      if (!e.presence.empty())
        ag.presence = e.presence;
      else if (ag.presence == "offline")
        ag.presence = "away";
      ag.since = e.at;
      break;
    case core::agent_event_type::logout:
      ag.logged_in = false;
      ag.presence = "offline";
      ag.since = e.at;
      break;
    case core::agent_event_type::presence:
      ag.presence = e.presence;
      ag.since = e.at;
      break;
    case core::agent_event_type::accept:
      if (auto it = contacts_.find(e.contact_id);
          it != contacts_.end() && it->second.offered_to == e.agent_id)
        it->second.accepted_by = e.agent_id;
      break;
    case core::agent_event_type::complete:
      if (auto it = contacts_.find(e.contact_id);
          it != contacts_.end() && !it->second.finished &&
          (it->second.assigned_to == e.agent_id || it->second.accepted_by == e.agent_id))
        finish(it->second, "completed");
      break;
    default:
      break;
  }
  return out;
}

core::result<contact_route> read_model::authorize(const std::string& agent,
                                                  const std::string& contact,
                                                  desk_action action) const {
  std::lock_guard lock(mutex_);
  auto it = contacts_.find(contact);
  if (it == contacts_.end() || !it->second.agents.count(agent))
    return core::error{"contact '" + contact + "' was not offered or assigned to you", "forbidden"};
  const contact_view& c = it->second;
  bool ok = false;
  std::string what;
  switch (action) {
    case desk_action::accept:
    case desk_action::reject:
      ok = !c.finished && c.offered_to == agent && c.accepted_by != agent;
      what = c.accepted_by == agent && c.offered_to == agent ? "you already accepted it"
                                                             : "the offer is no longer open";
      break;
    case desk_action::work:
      ok = !c.finished &&
           (c.assigned_to == agent || (c.offered_to == agent && c.accepted_by == agent));
      what = c.finished ? "it is " + c.state : "it is not assigned to you (accept it first)";
      break;
  }
  if (!ok) return core::error{"contact '" + contact + "': " + what, "conflict"};
  return contact_route{c.id,       c.domain,    c.conversation, c.channel,
                       c.provider, c.recipient, c.subject};
}

void read_model::add_reply(const std::string& contact, const std::string& agent,
                           const std::string& text, core::timestamp_ms at) {
  std::lock_guard lock(mutex_);
  auto it = contacts_.find(contact);
  if (it == contacts_.end()) return;
  auto& msgs = it->second.messages;
  msgs.push_back({"", "agent", agent, "", text, at});
  if (msgs.size() > max_messages_per_contact) msgs.erase(msgs.begin());
}

std::vector<std::string> read_model::resync(const std::string& agent,
                                            const std::string& domain) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [id, c] : contacts_) {
    if (c.finished) continue;
    if (c.assigned_to == agent || (c.offered_to == agent && c.accepted_by == agent))
      out.push_back(offer_message(c, "assigned"));
    else if (c.offered_to == agent)
      out.push_back(offer_message(c, "offer"));
  }
  if (auto s = stats_.find(domain); s != stats_.end())
    out.push_back(dump({{"type", "stats"},
                        {"domain", domain},
                        {"at", s->second["at"]},
                        {"queues", s->second["queues"]},
                        {"agents", s->second["agents"]}}));
  return out;
}

json read_model::queues(const std::string& domain) const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [d, s] : stats_) {
    if (!domain.empty() && d != domain) continue;
    out.push_back({{"domain", d}, {"at", s["at"]}, {"queues", s["queues"]}});
  }
  return {{"domains", std::move(out)}};
}

std::optional<json> read_model::queue(const std::string& domain, const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& [d, s] : stats_) {
    if (!domain.empty() && d != domain) continue;
    for (const auto& q : s["queues"])
      if (q.is_object() && q.value("name", q.value("queue", "")) == name) {
        json j = q;
        j["domain"] = d;
        j["at"] = s["at"];
        return j;
      }
  }
  return std::nullopt;
}

json read_model::agents(const std::string& domain,
                        const std::map<std::string, std::size_t>& connections) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, json> rows;
  auto row = [&](const std::string& id) -> json& {
    auto [it, fresh] = rows.try_emplace(id);
    if (fresh) it->second = {{"id", id}, {"offers", 0}, {"assigned", 0}, {"connections", 0}};
    return it->second;
  };
  for (const auto& [id, a] : agents_) {
    if (!domain.empty() && a.domain != domain) continue;
    json& r = row(id);
    r["domain"] = a.domain;
    r["presence"] = a.presence;
    r["logged_in"] = a.logged_in;
    if (!a.display_name.empty()) r["display_name"] = a.display_name;
    if (a.since) r["since"] = core::format_timestamp(a.since);
  }
  for (const auto& [id, c] : contacts_) {
    if (c.finished || (!domain.empty() && c.domain != domain)) continue;
    if (!c.assigned_to.empty())
      row(c.assigned_to)["assigned"] = row(c.assigned_to)["assigned"].get<int>() + 1;
    else if (!c.offered_to.empty())
      row(c.offered_to)["offers"] = row(c.offered_to)["offers"].get<int>() + 1;
  }
  for (const auto& [d, s] : stats_) {
    if (!domain.empty() && d != domain) continue;
    for (const auto& a : s["agents"])
      if (a.is_object()) {
        std::string id = a.value("id", a.value("agent", a.value("agent_id", "")));
        if (!id.empty()) row(id)["router"] = a;
      }
  }
  json out = json::array();
  for (auto& [id, r] : rows) {
    auto c = connections.find(id);
    r["connections"] = c == connections.end() ? 0 : c->second;
    out.push_back(std::move(r));
  }
  return {{"agents", std::move(out)}};
}

std::optional<json> read_model::agent(const std::string& id, std::size_t connections) const {
  auto all = agents("", {{id, connections}});
  for (auto& a : all["agents"])
    if (a["id"] == id) return a;
  return std::nullopt;
}

std::optional<json> read_model::customer(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = customers_.find(id);
  if (it == customers_.end()) return std::nullopt;
  json contacts = json::array();
  for (const auto& cid : it->second.second)
    if (auto c = contacts_.find(cid); c != contacts_.end())
      contacts.push_back(contact_json(c->second, false));
  return json{
      {"id", id}, {"history", parse_array(it->second.first)}, {"contacts", std::move(contacts)}};
}

json read_model::contact_json(const contact_view& c, bool full) const {
  json j{{"id", c.id},
         {"domain", c.domain},
         {"customer_id", c.customer_id},
         {"display_name", c.display_name},
         {"channel", c.channel},
         {"provider", c.provider},
         {"conversation", c.conversation},
         {"subject", c.subject},
         {"queue", c.queue},
         {"state", c.state}};
  if (!c.offered_to.empty()) j["offered_to"] = c.offered_to;
  if (!c.assigned_to.empty()) j["assigned_to"] = c.assigned_to;
  if (!full) return j;
  json decisions = json::array();
  for (const auto& d : c.decisions) {
    json dj{{"id", d.id},
            {"type", d.type},
            {"seq", d.seq},
            {"at", core::format_timestamp(d.at)},
            {"reason", reason_json(d.reason)}};
    if (!d.agent.empty()) dj["agent_id"] = d.agent;
    if (!d.queue.empty()) dj["queue"] = d.queue;
    if (d.priority) dj["priority"] = *d.priority;
    if (d.deadline) dj["deadline"] = core::format_timestamp(*d.deadline);
    decisions.push_back(std::move(dj));
  }
  json conversation = json::array();
  for (const auto& m : c.messages) conversation.push_back(message_json(m));
  j["decisions"] = std::move(decisions);
  j["conversation"] = std::move(conversation);
  j["history"] = parse_array(c.history);
  // "Why did this contact go to this agent?": the reason of the latest offer or assignment.
  for (auto d = c.decisions.rbegin(); d != c.decisions.rend(); ++d)
    if (d->type == "offer" || d->type == "assign") {
      j["why"] = {
          {"agent_id", d->agent}, {"decision", d->type}, {"reason", reason_json(d->reason)}};
      break;
    }
  return j;
}

std::optional<json> read_model::contact(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = contacts_.find(id);
  if (it == contacts_.end()) return std::nullopt;
  return contact_json(it->second, true);
}

bool read_model::agent_knows_contact(const std::string& agent, const std::string& contact) const {
  std::lock_guard lock(mutex_);
  auto it = contacts_.find(contact);
  return it != contacts_.end() && it->second.agents.count(agent);
}

bool read_model::agent_knows_customer(const std::string& agent, const std::string& customer) const {
  std::lock_guard lock(mutex_);
  auto it = customers_.find(customer);
  if (it == customers_.end()) return false;
  for (const auto& cid : it->second.second)
    if (auto c = contacts_.find(cid); c != contacts_.end() && c->second.agents.count(agent))
      return true;
  return false;
}

std::size_t read_model::active_contacts() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, c] : contacts_) n += !c.finished;
  return n;
}

}  // namespace omni::routing::desk
