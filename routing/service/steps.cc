// Turns consumed contacts and agent events into engine steps: customer resolution and history
// on arrival, follow-ups, transfers (README, "Inputs").
#include "routing/service/router_impl.h"

#include "core/events/json_writer.h"

namespace omni::routing::service {
namespace {

// Rules see at most this much of a contact's text (live and on replay alike).
constexpr std::size_t routed_text = 64 * 1024;
constexpr std::size_t snippet_bytes = 280;

eng::channel to_engine(core::channel c) {
  switch (c) {
    case core::channel::email:
      return eng::channel::email;
    case core::channel::chat:
      return eng::channel::chat;
    case core::channel::messenger:
      return eng::channel::messenger;
    case core::channel::voice:
      return eng::channel::voice;
    case core::channel::sms:
      return eng::channel::sms;
  }
  return eng::channel::chat;
}

// Streamed (core::json_writer), members in sorted order: the text nlohmann's dump of the tree gave.
std::string history_json(const std::vector<history::contact_record>& recent,
                         const std::string& current, int limit) {
  core::json_writer w(64 + 160 * recent.size());
  w.begin_array();
  int written = 0;
  for (const auto& r : recent) {
    if (r.contact_id == current) continue;
    if (written >= limit) break;
    ++written;
    w.begin_object()
        .member("agent", r.agent)
        .member("arrived_at", core::format_timestamp(r.arrived_at));
    w.member("channel", core::to_string(r.chan));
    if (r.completed_at) w.member("completed_at", core::format_timestamp(r.completed_at));
    w.member("contact_id", r.contact_id);
    if (!r.disposition.empty()) w.member("disposition", r.disposition);
    w.member("provider", r.provider).member("queue", r.queue);
    if (r.satisfaction) w.member("satisfaction", *r.satisfaction);
    w.member("subject", cut_utf8(r.subject, 120)).end_object();
  }
  w.end_array();
  return w.take();
}

}  // namespace

// Takes the decoded contact apart: the strings only the engine input needs are moved into it.
std::optional<step> router::impl::contact_step(domain_state& d, core::contact& c,
                                               eng::timestamp now) {
  step s;
  s.now = now;
  s.seen.push_back(c.id);
  if (c.kind == core::contact_kind::abandoned) {
    std::string target = c.id;
    if (auto a = c.attributes.find("contact_id"); a != c.attributes.end()) {
      target = a->second;
    } else if (auto conv = d.conversations.find(c.conversation);
               !c.conversation.empty() && conv != d.conversations.end()) {
      target = conv->second;
    }
    s.inputs.push_back(eng::contact_abandoned{target});
    return s;
  }
  if (!c.conversation.empty()) {
    auto conv = d.conversations.find(c.conversation);
    if (conv != d.conversations.end()) {
      auto st = d.engine->contact_status(conv->second, now);
      if (st &&
          (st->state == eng::contact_state::waiting || st->state == eng::contact_state::offered ||
           st->state == eng::contact_state::assigned)) {
        s.message =
            follow_up{c.id, conv->second, st->state == eng::contact_state::waiting ? "" : st->agent,
                      c.subject, cut_utf8(c.text, core::codec_limits::max_subject_bytes)};
        return s;
      }
    }
  }
  contact_meta m;
  m.id = c.id;
  m.display_name = c.customer.display_name;
  m.channel = std::string(core::to_string(c.chan));
  m.provider = c.provider;
  m.conversation = c.conversation;
  m.subject = cut_utf8(c.subject, 1000);
  m.snippet = cut_utf8(c.text, snippet_bytes);
  if (!c.customer.identities.empty()) m.recipient = c.customer.identities.front();

  eng::contact_arrived a;
  a.item.id = c.id;
  a.item.chan = to_engine(c.chan);
  a.item.provider = c.provider;
  a.item.to = std::move(c.to);
  a.item.subject = std::move(c.subject);
  a.item.text = c.text.size() <= routed_text ? std::move(c.text) : cut_utf8(c.text, routed_text);
  a.item.language = std::move(c.language);
  a.item.attributes = std::move(c.attributes);
  a.item.customer_tier = c.customer.tier;
  if (history) resolve_customer(d, c, now, m, a);
  a.item.customer_id = m.customer_id;
  s.inputs.push_back(std::move(a));
  s.arrivals.push_back(std::move(m));
  return s;
}

// Identity -> customer (merges logged by the store), tier, last agent, recent history.
void router::impl::resolve_customer(domain_state& d, const core::contact& c, eng::timestamp now,
                                    contact_meta& m, eng::contact_arrived& a) {
  std::vector<core::identity> ids;
  for (const auto& id : c.customer.identities)
    if (auto n = normalizer.normalize(id)) ids.push_back(std::move(*n));
  if (ids.empty()) return;
  auto r = history->resolve(ids, c.customer.display_name, c.customer.tier, now);
  if (!r) {
    logger().warn("history: cannot resolve the customer of {}: {}", c.id, r.err().to_string());
    return;
  }
  m.customer_id = r->customer_id;
  for (const auto& merged : r->merged)
    logger().info("history: customer {} merged into {} (contact {})", merged, r->customer_id, c.id);
  if (a.item.customer_tier.empty()) a.item.customer_tier = r->tier;
  const int n = opts.config.history_length;
  // A customer created by this contact has no history yet.
  auto recent =
      r->created ? std::vector<history::contact_record>{} : history->recent(r->customer_id, n + 1);
  m.history = history_json(recent, c.id, n);
  // The newest answered contact other than this one (a redo after a crash must not see itself).
  for (const auto& prev : recent) {
    if (prev.contact_id == c.id || prev.agent.empty() || prev.answered_at == 0) continue;
    if (now - prev.answered_at <= d.engine->config().affinity.window)
      a.last_agent = eng::history_hint{prev.agent, prev.answered_at};
    break;
  }
  history::contact_record rec;
  rec.contact_id = c.id;
  rec.customer_id = r->customer_id;
  rec.domain = d.name;
  rec.chan = c.chan;
  rec.provider = c.provider;
  rec.subject = m.subject;
  rec.arrived_at = now;
  arrival_record = std::move(rec);  // written by process() once the step's decisions are known
}

// Writes the arrival resolve_customer() prepared, with its answer when the step assigned the
// contact at once (one statement instead of two). Returns the contact whose answer it recorded
// so (publish() does not record it again), else empty.
std::string router::impl::record_arrival(const std::vector<eng::decision>& out) {
  if (!arrival_record || !history) return {};
  history::contact_record rec = std::move(*arrival_record);
  arrival_record.reset();
  for (const auto& dec : out)
    if (dec.kind == eng::decision_kind::assign && dec.contact == rec.contact_id) {
      rec.agent = dec.agent;
      rec.queue = dec.queue;
      rec.answered_at = dec.at;
      break;
    }
  if (auto w = history->record_arrival(rec); !w) {
    logger().warn("history: {}", w.err().to_string());
    return {};
  }
  return rec.answered_at > 0 ? std::move(rec.contact_id) : std::string();
}

std::optional<step> router::impl::agent_step(domain_state& d, const core::agent_event& e,
                                             eng::timestamp now) {
  step s;
  s.now = now;
  if (!e.id.empty()) s.seen.push_back(e.id);
  const agent_profile* profile = nullptr;
  if (auto p = opts.config.agents.find(e.agent_id); p != opts.config.agents.end())
    profile = &p->second;
  auto skills = [&]() {
    std::vector<eng::skill_level> out;
    for (const auto& [k, v] : e.skills) out.push_back({k, v});
    return out;
  };
  auto capacity = [&]() {
    std::map<eng::channel, int> out;
    for (const auto& [k, v] : e.capacity)
      if (auto ch = eng::parse_channel(k)) out[*ch] = v;
    return out;
  };
  using T = core::agent_event_type;
  switch (e.type) {
    case T::login: {
      eng::agent_login l{e.agent_id, skills(), capacity(), eng::presence::available};
      if (l.skills.empty() && profile) l.skills = profile->skills;
      if (l.capacity.empty() && profile) l.capacity = profile->capacity;
      if (auto p = eng::parse_presence(e.presence)) l.initial = *p;
      s.inputs.push_back(std::move(l));
      break;
    }
    case T::logout:
      s.inputs.push_back(eng::agent_logout{e.agent_id});
      break;
    case T::presence: {
      auto p = eng::parse_presence(e.presence);
      if (!p) {
        logger().warn("agent event {}: unknown presence '{}'", e.id, e.presence);
        return std::nullopt;
      }
      s.inputs.push_back(eng::presence_change{e.agent_id, *p});
      break;
    }
    case T::accept:
      s.inputs.push_back(eng::offer_accepted{e.contact_id, e.agent_id});
      break;
    case T::reject:
      s.inputs.push_back(eng::offer_rejected{e.contact_id, e.agent_id});
      break;
    case T::complete:
      s.inputs.push_back(eng::contact_completed{e.contact_id, e.agent_id, e.disposition});
      s.finished.push_back(e.contact_id);
      if (history) {
        if (auto r = history->record_completion(e.contact_id, e.agent_id, e.disposition,
                                                e.satisfaction, now);
            !r)
          logger().debug("history: {}", r.err().to_string());
      }
      break;
    case T::transfer:
      transfer_step(d, e, now, s);
      break;
    case T::skills: {
      eng::agent_update u{e.agent_id, std::nullopt, capacity()};
      if (!e.skills.empty()) u.skills = skills();
      s.inputs.push_back(std::move(u));
      break;
    }
    case T::reply:
    case T::heartbeat:
      return std::nullopt;
  }
  return s;
}

// A transfer completes the contact for the agent and brings it back as a new arrival (id
// "<contact>~<event id>") pre-classified into the target queue (or its current queue), with the
// target agent, if any, as the history hint so that agent gets the first offer.
void router::impl::transfer_step(domain_state& d, const core::agent_event& e, eng::timestamp now,
                                 step& s) {
  auto st = d.engine->contact_status(e.contact_id, now);
  auto meta = d.contacts.find(e.contact_id);
  s.inputs.push_back(eng::contact_completed{e.contact_id, e.agent_id, "transferred"});
  s.finished.push_back(e.contact_id);
  if (!st || meta == d.contacts.end()) return;
  eng::contact_arrived a;
  contact_meta m = meta->second;
  m.id = e.contact_id + "~" + e.id;
  a.item.id = m.id;
  a.item.chan = st->chan;
  a.item.provider = m.provider;
  a.item.subject = m.subject;
  a.item.customer_id = m.customer_id;
  a.queue = e.target_queue.empty() ? st->queue : e.target_queue;
  a.priority = st->priority;
  if (!e.target_agent.empty()) a.last_agent = eng::history_hint{e.target_agent, now};
  s.inputs.push_back(std::move(a));
  s.arrivals.push_back(std::move(m));
  s.seen.push_back(e.contact_id + "~" + e.id);
}

}  // namespace omni::routing::service
