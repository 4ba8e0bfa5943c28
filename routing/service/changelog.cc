// The records a step publishes to the changelog (decisions, follow-up messages, the marker),
// the expected-wait notice, and each domain's statistics (README, "The changelog").
#include "routing/service/router_impl.h"

namespace omni::routing::service {

core::assignment router::impl::record_of(domain_state& d, const eng::decision& dec,
                                         const std::string& step_tag, eng::timestamp now) {
  core::assignment a;
  a.seq = ++d.seq;
  a.id = d.name + "-" + std::to_string(a.seq);
  a.type = std::string(eng::to_string(dec.kind));
  a.domain = d.name;
  a.at = dec.at;
  a.contact_id = dec.contact;
  a.agent_id = dec.agent;
  a.queue = dec.queue;
  if (!dec.contact.empty()) a.priority = dec.priority;
  a.reason.rule = dec.reason.rule;
  a.reason.strategy = std::string(eng::to_string(dec.reason.strat));
  if (dec.reason.step >= 0) a.reason.escalation_step = std::to_string(dec.reason.step);
  a.reason.candidates = static_cast<int>(dec.reason.candidates);
  a.reason.affinity = dec.reason.affinity;
  a.reason.text = eng::to_string(dec);
  a.attributes["reason_code"] = std::string(eng::to_string(dec.reason.code));
  a.attributes["step"] = step_tag;
  a.attributes["now"] = std::to_string(now);
  if (dec.kind == eng::decision_kind::overflow) a.attributes["from_queue"] = dec.from_queue;
  if (dec.kind == eng::decision_kind::agent_state)
    a.attributes["presence"] = std::string(eng::to_string(dec.agent_presence));
  if (dec.kind == eng::decision_kind::offer || dec.kind == eng::decision_kind::assign) {
    auto it = d.contacts.find(dec.contact);
    if (it != d.contacts.end()) {
      const contact_meta& m = it->second;
      a.contact = core::offer_details{m.customer_id,
                                      m.display_name,
                                      m.channel,
                                      m.provider,
                                      m.conversation,
                                      m.subject,
                                      m.snippet,
                                      m.text,
                                      m.text_cut,
                                      m.recipient,
                                      m.history.empty() ? "[]" : m.history};
      if (dec.kind == eng::decision_kind::offer) {
        auto ch = eng::parse_channel(m.channel).value_or(eng::channel::chat);
        const auto& cc = d.engine->config().channels[eng::index_of(ch)];
        eng::duration timeout = cc.accept_timeout;
        if (dec.reason.affinity) timeout = std::min(timeout, d.engine->config().affinity.timebox);
        a.deadline = dec.at + timeout;
      }
    }
  }
  return a;
}

// Publishes the step's records: decisions, follow-up message, notices, then the marker whose
// delivery report lets the source offset be stored.
// `answered` names a contact whose assign is in the history already (record_arrival).
void router::impl::publish(partition_state& ps, domain_state& d, step s, bool tick,
                           const std::vector<eng::decision>& out, const source_ref& src,
                           std::string_view answered) {
  const std::string step_tag = tick ? "tick" : src.topic + "@" + std::to_string(src.offset);
  const std::string& changelog = opts.topics.assignments;
  completion failure_only{ps.generation, ps.partition, "", -1, false, {}};
  for (const auto& dec : out) {
    auto rec = record_of(d, dec, step_tag, s.now);
    const std::string type = rec.type;
    produce_record(changelog, ps.partition, d.name, std::move(rec), failure_only);
    if (dec.kind == eng::decision_kind::assign && history &&
        (answered.empty() || dec.contact != answered)) {
      if (auto r = history->record_answer(dec.contact, dec.agent, dec.queue, dec.at); !r)
        logger().warn("history: {}", r.err().to_string());
    }
    count_decision(type);
  }
  if (s.message) {
    core::assignment m;
    m.seq = ++d.seq;
    m.id = d.name + "-" + std::to_string(m.seq);
    m.type = "message";
    m.domain = d.name;
    m.at = s.now;
    m.contact_id = s.message->contact;
    m.agent_id = s.message->agent;
    m.attributes["message_id"] = s.message->message_id;
    m.attributes["subject"] = s.message->subject;
    m.attributes["text"] = cut_utf8(s.message->text, core::codec_limits::max_subject_bytes);
    m.attributes["step"] = step_tag;
    m.attributes["now"] = std::to_string(s.now);
    produce_record(changelog, ps.partition, d.name, std::move(m), failure_only);
    count_decision("message");
  }
  for (const auto& arrival : s.arrivals) notify_expected_wait(d, arrival, s.now);

  core::assignment marker;
  marker.seq = ++d.seq;
  marker.id = d.name + "-" + std::to_string(marker.seq);
  marker.type = tick ? "tick" : "input";
  marker.domain = d.name;
  marker.at = s.now;
  marker.attributes["now"] = std::to_string(s.now);
  if (!tick) {
    marker.attributes["source_topic"] = src.topic;
    marker.attributes["source_partition"] = std::to_string(src.partition);
    marker.attributes["source_offset"] = std::to_string(src.offset);
  }
  // The emitter serializes the step into the marker (attribute `step`, split at step_chunk).
  completion done{ps.generation, ps.partition, tick ? "" : src.topic, src.offset, false, {}};
  done.marker = ++ps.markers_emitted;
  ps.steps_since_snapshot++;
  produce_record(changelog, ps.partition, d.name, std::move(marker), std::move(done), std::move(s));
  if (!tick) ps.pending[src.topic].push_back({src.offset, false});
  maybe_snapshot(ps);  // between steps: a snapshot is due after every_steps of them
}

void router::impl::notify_expected_wait(domain_state& d, const contact_meta& m,
                                        eng::timestamp now) {
  if (m.channel != "chat" && m.channel != "messenger" && m.channel != "email") return;
  auto st = d.engine->contact_status(m.id, now);
  if (!st || st->state != eng::contact_state::waiting) return;
  if (!opts.config.notify_expected_wait.count(st->queue)) return;
  core::outbound o;
  o.id = "notice-" + m.id;
  o.kind = core::outbound_kind::notice;
  o.domain = d.name;
  o.conversation = m.conversation;
  o.contact_id = m.id;
  o.chan = core::parse_channel(m.channel).value_or(core::channel::chat);
  o.provider = m.provider;
  o.recipient = m.recipient;
  o.at = now;
  const std::size_t position = st->position.value_or(1);
  std::string wait;
  if (st->expected_wait) {
    const auto minutes = std::max<std::int64_t>(1, (*st->expected_wait + 59'999) / 60'000);
    wait = "about " + std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
    o.attributes["expected_wait_seconds"] = std::to_string(*st->expected_wait / 1000);
  }
  o.attributes["queue"] = st->queue;
  o.attributes["queue_position"] = std::to_string(position);
  if (m.channel == "email") {
    o.subject = m.subject.empty() ? "We have received your message" : "Re: " + m.subject;
    o.text = "We have received your message and will answer " +
             (wait.empty() ? std::string("as soon as an agent is free")
                           : "in " + wait + " (you are number " + std::to_string(position) +
                                 " in the queue)") +
             ".";
  } else {
    o.text = "All our agents are busy. You are number " + std::to_string(position) +
             " in the queue" + (wait.empty() ? "" : "; expected wait " + wait) + ".";
  }
  produce_to(opts.topics.outbound, -1, m.conversation.empty() ? m.id : m.conversation,
             core::encode(o), {0, -1, "", -1, false, {}});
}

void router::impl::count_decision(const std::string& type) {
  auto& c = decision_counters[type];
  if (!c)
    c = &core::metrics::global().counter_of("omniroute_router_decisions_total",
                                            "Decisions the router published, by type.",
                                            {{"type", type}});
  c->inc();
  std::lock_guard lock(stats_mutex);
  stats.decisions++;
}

// Each domain's queue and agent statistics as a `stats` record on its changelog partition (the
// desk gateway's live view; replay skips them). Values longer than one attribute allows are
// split into `queues`, `queues.1001`, ... like steps.
void router::impl::publish_stats(eng::timestamp now) {
  for (auto& [p, ps] : partitions)
    for (auto& [name, d] : ps->domains) {
      json queues = json::array();
      for (const auto& q : d->engine->queue_statuses(now)) queues.push_back(queue_json(q));
      json agents = json::array();
      for (const auto& id : d->engine->agent_ids())
        if (auto a = d->engine->agent_status(id, now)) agents.push_back(agent_json(*a));
      std::string queues_json = queues.dump(), agents_json = agents.dump();
      std::string body = queues_json + agents_json;
      if (body == d->last_stats && now - d->last_stats_at < 60'000) continue;
      core::assignment rec;
      rec.seq = d->seq;  // not a step: takes no sequence number of its own
      rec.id = d->name + "-stats-" + std::to_string(now);
      rec.type = "stats";
      rec.domain = d->name;
      rec.at = now;
      core::put_split_attribute(rec.attributes, "queues", queues_json);
      core::put_split_attribute(rec.attributes, "agents", agents_json);
      produce_record(opts.topics.assignments, ps->partition, d->name, std::move(rec),
                     {ps->generation, ps->partition, "", -1, false, {}});
      d->last_stats = std::move(body);
      d->last_stats_at = now;
    }
}

json router::impl::queue_json(const eng::queue_view& q) {
  json expected = json::object();
  for (std::size_t c = 0; c < eng::channel_count; ++c)
    if (q.expected_wait[c])
      expected[std::string(eng::to_string(static_cast<eng::channel>(c)))] = *q.expected_wait[c];
  return {{"name", q.name},
          {"waiting", q.waiting},
          {"offered", q.offered},
          {"assigned", q.assigned},
          {"longest_wait_ms", q.longest_wait},
          {"arrived", q.arrived},
          {"answered", q.answered},
          {"answered_within_sla", q.answered_within_sla},
          {"completed", q.completed},
          {"abandoned", q.abandoned},
          {"expired", q.expired},
          {"service_level", q.service_level},
          {"sla_target", q.sla_target},
          {"average_speed_of_answer_ms", q.average_speed_of_answer},
          {"abandonment_rate", q.abandonment_rate},
          {"expected_wait_ms", std::move(expected)}};
}

json router::impl::agent_json(const eng::agent_view& a) {
  int load = 0, capacity = 0;
  for (std::size_t c = 0; c < eng::channel_count; ++c) {
    load += a.load[c];
    capacity += a.capacity[c];
  }
  return {{"id", a.id},
          {"presence", std::string(eng::to_string(a.state))},
          {"load", load},
          {"capacity", capacity},
          {"contacts", a.contacts},
          {"offers", a.offers},
          {"handled", a.handled},
          {"rejected", a.rejected},
          {"missed", a.missed},
          {"occupancy", a.occupancy},
          {"utilization", a.utilization}};
}

}  // namespace omni::routing::service
