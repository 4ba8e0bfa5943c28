#include "connectors/telephony/call_tracker.h"

#include <algorithm>

namespace omni::connectors::telephony {

namespace {

constexpr std::size_t ended_memory = 4096;  // late or replayed events of calls that ended

bool withheld(std::string_view number) {
  std::string lower(number);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return lower.empty() || lower == "<unknown>" || lower == "unknown" || lower == "anonymous" ||
         lower == "restricted" || lower == "private" || lower == "unavailable" ||
         lower == "withheld";
}

}  // namespace

call_tracker::call_tracker(call_settings s)
    : settings_(std::move(s)), normalizer_(settings_.default_region), ended_(ended_memory) {}

std::string call_tracker::contact_id_of(std::string_view key) const {
  return core::contact_id(settings_.provider, settings_.connector + ":" + std::string(key));
}

bool call_tracker::is_agent_extension(std::string_view number) const {
  return !number.empty() && settings_.agents.count(std::string(number)) > 0;
}

void call_tracker::set_caller(call& c, std::string_view number, std::string_view name) {
  core::contact& ct = c.contact;
  ct.customer.identities.clear();
  ct.attributes.erase("caller_withheld");
  if (!number.empty()) ct.attributes["caller_number"] = std::string(number);
  auto e164 = withheld(number) ? std::nullopt : normalizer_.phone_e164(number);
  if (e164) {
    ct.customer.identities.push_back({"phone", *e164});
    ct.subject = "Call from " + *e164;
  } else {
    // Anonymous, withheld or unparsable: an unknown caller, routed like any other.
    ct.attributes["caller_withheld"] = "true";
    ct.subject = "Call from an unknown number";
  }
  if (!name.empty() && !withheld(name) && name != number) ct.customer.display_name = name;
}

void call_tracker::started(const call_start& s, core::timestamp_ms now, call_output& out) {
  if (s.key.empty() || calls_.count(s.key) || ended_.contains(s.key)) return;  // replay
  call c;
  core::contact& ct = c.contact;
  ct.provider = settings_.provider;
  ct.source_id = settings_.connector + ":" + s.key;
  ct.id = core::contact_id(ct.provider, ct.source_id);
  ct.chan = core::channel::voice;
  ct.received_at = now;
  ct.domain = settings_.domain;
  ct.conversation = settings_.provider + ":" + settings_.connector + ":" + s.key;
  ct.to = s.dialled;
  ct.attributes = s.attributes;
  ct.attributes["call_id"] = s.key;
  set_caller(c, s.caller_number, s.caller_name);
  c.current = ct.id;
  auto [it, inserted] = calls_.emplace(s.key, std::move(c));
  order_.push_back(s.key);
  if (s.caller_final || !withheld(s.caller_number)) publish(it->second, out);

  while (calls_.size() > settings_.max_calls && !order_.empty()) {
    std::string oldest = std::move(order_.front());
    order_.pop_front();
    if (calls_.erase(oldest)) counts_.dropped++;
  }
  // Ended calls leave their key in order_; drop those once they pile up.
  if (order_.size() > 2 * calls_.size() + 64) {
    std::deque<std::string> live;
    for (auto& k : order_)
      if (calls_.count(k)) live.push_back(std::move(k));
    order_ = std::move(live);
  }
}

void call_tracker::publish(call& c, call_output& out) {
  if (c.published) return;
  c.published = true;
  counts_.routed++;
  out.contacts.push_back(c.contact);
}

void call_tracker::caller_id(std::string_view key, std::string_view number, std::string_view name,
                             core::timestamp_ms, call_output& out) {
  auto it = calls_.find(std::string(key));
  if (it == calls_.end() || it->second.published) return;
  if (withheld(number)) return;  // nothing new; keep waiting
  set_caller(it->second, number, name);
  publish(it->second, out);
}

void call_tracker::routing(std::string_view key, core::timestamp_ms, call_output& out) {
  auto it = calls_.find(std::string(key));
  if (it != calls_.end()) publish(it->second, out);
}

void call_tracker::expire(core::timestamp_ms now, call_output& out) {
  for (auto& [key, c] : calls_)
    if (!c.published && now - c.contact.received_at >= settings_.caller_id_wait.count())
      publish(c, out);
}

std::string call_tracker::agent_for(const std::vector<std::string>& extensions) const {
  for (const auto& e : extensions)
    if (auto it = settings_.agents.find(e); it != settings_.agents.end()) return it->second;
  if (settings_.extension_is_agent)
    for (const auto& e : extensions)
      if (!e.empty()) return e;
  return {};
}

core::agent_event call_tracker::event(const call& c, std::string_view key,
                                      core::agent_event_type type, std::string_view suffix,
                                      core::timestamp_ms now) const {
  core::agent_event e;
  // Stable per call and step, so the router drops a re-sent one.
  e.id = settings_.provider + ":" + settings_.connector + ":" + std::string(key) + ":" +
         std::string(core::to_string(type)) + ":" + std::to_string(c.transfers) +
         std::string(suffix);
  e.type = type;
  e.domain = settings_.domain;
  e.agent_id = c.agent;
  e.at = now;
  e.contact_id = c.current;
  e.attributes["source"] = settings_.provider;
  e.attributes["call_id"] = std::string(key);
  return e;
}

void call_tracker::answered(std::string_view key, const std::vector<std::string>& extensions,
                            core::timestamp_ms now, call_output& out) {
  auto it = calls_.find(std::string(key));
  if (it == calls_.end()) {
    counts_.unknown_calls++;
    return;
  }
  call& c = it->second;
  if (c.answered) return;  // another leg's answer, or a re-sent one
  publish(c, out);         // answered before routing said anything: it exists all the same
  c.answered = true;
  c.agent = agent_for(extensions);
  if (c.agent.empty()) {
    counts_.unmapped_agents++;
    return;
  }
  counts_.answered++;
  out.agent_events.push_back(event(c, key, core::agent_event_type::accept, "", now));
}

void call_tracker::transferred(std::string_view key, const std::vector<std::string>& targets,
                               core::timestamp_ms now, call_output& out) {
  auto it = calls_.find(std::string(key));
  if (it == calls_.end()) {
    counts_.unknown_calls++;
    return;
  }
  call& c = it->second;
  if (!c.answered || c.agent.empty()) return;  // nobody of ours had it: nothing to move
  std::string target = agent_for(targets);
  if (target.empty()) {
    // Sent to an extension that is no agent (voicemail, an outside number): the agent is done
    // with it, and so are we; its hangup changes nothing.
    core::agent_event e = event(c, key, core::agent_event_type::complete, "", now);
    std::string ext = targets.empty() ? std::string() : targets.front();
    e.disposition = ext.empty() ? "transferred" : "transferred to " + ext;
    c.agent.clear();
    counts_.completed++;
    out.agent_events.push_back(std::move(e));
    return;
  }
  core::agent_event e = event(c, key, core::agent_event_type::transfer, "", now);
  e.target_agent = std::move(target);
  // The router completes the contact for the agent and brings it back as "<contact>~<event id>".
  c.current = c.current + "~" + e.id;
  c.answered = false;
  c.agent.clear();
  c.transfers++;
  counts_.transferred++;
  out.agent_events.push_back(std::move(e));
}

void call_tracker::ended(std::string_view key, std::string_view cause, core::timestamp_ms now,
                         call_output& out) {
  std::string k(key);
  auto it = calls_.find(k);
  if (it == calls_.end()) {
    if (!ended_.contains(k)) counts_.unknown_calls++;
    return;
  }
  call& c = it->second;
  if (c.answered && !c.agent.empty()) {
    core::agent_event e = event(c, key, core::agent_event_type::complete, "", now);
    e.disposition = cause.empty() ? "hangup" : std::string(cause);
    counts_.completed++;
    out.agent_events.push_back(std::move(e));
  } else if (!c.answered) {
    publish(c, out);  // a call that hung up while its caller id was pending still happened
    core::contact a;
    a.kind = core::contact_kind::abandoned;
    a.provider = c.contact.provider;
    a.source_id = c.contact.source_id + ":abandoned:" + std::to_string(c.transfers);
    a.id = core::contact_id(a.provider, a.source_id);
    a.chan = core::channel::voice;
    a.received_at = now;
    a.domain = c.contact.domain;
    a.conversation = c.contact.conversation;
    a.customer = c.contact.customer;
    a.to = c.contact.to;
    a.attributes["contact_id"] = c.current;
    a.attributes["call_id"] = k;
    if (!cause.empty()) a.attributes["hangup_cause"] = std::string(cause);
    counts_.abandoned++;
    out.contacts.push_back(std::move(a));
  }
  forget(k);
}

void call_tracker::forget(const std::string& key) {
  calls_.erase(key);
  ended_.insert(key);
}

}  // namespace omni::connectors::telephony
