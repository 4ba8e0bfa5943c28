#include "routing/service/router.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <pthread.h>

#include "core/events/codec.h"
#include "core/events/json_writer.h"
#include "core/identity/normalize.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/recent_ids.h"
#include "routing/engine/engine.h"
#include "routing/history/store.h"
#include "routing/service/step.h"

namespace omni::routing::service {
namespace {

namespace eng = engine;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

spdlog::logger& logger() {
  static auto l = core::log::get("omni.router");
  return *l;
}

// Attribute values are limited to 8 KiB by the codec: a step is split over step, step.1, ...
constexpr std::size_t step_chunk = 8000;
// Rules see at most this much of a contact's text (live and on replay alike).
constexpr std::size_t routed_text = 64 * 1024;
constexpr std::size_t snippet_bytes = 280;

std::int64_t to_int(const std::string& s, std::int64_t fallback) {
  try {
    return s.empty() ? fallback : std::stoll(s);
  } catch (const std::exception&) {
    return fallback;
  }
}

eng::timestamp wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

struct domain_state {
  explicit domain_state(std::size_t seen_window) : seen(seen_window) {}
  std::string name;
  std::unique_ptr<eng::engine> engine;
  std::int64_t seq = 0;  // last changelog sequence number used
  std::unordered_map<std::string, contact_meta> contacts;
  std::unordered_map<std::string, std::string> conversations;  // key -> active contact id
  core::recent_ids seen;   // contact and agent-event ids (routing.dedupe_window)
  std::string last_stats;  // the statistics last published, to skip unchanged ones
  eng::timestamp last_stats_at = 0;
};

// Offsets of one input partition whose steps are in flight, in consumption order.
struct pending_offset {
  std::int64_t offset;
  bool done;
};

struct partition_state {
  std::int32_t partition = -1;
  std::uint64_t generation = 0;
  std::map<std::string, std::unique_ptr<domain_state>> domains;
  // Source topic -> the offsets the changelog has a marker for, from the group's committed offset
  // on (what the consumer may deliver again after a rebuild). A set, not the highest offset: an
  // input whose marker is missing is consumed again even when later ones are recorded.
  std::map<std::string, std::set<std::int64_t>> recorded;
  std::map<std::string, std::deque<pending_offset>> pending;
};

struct completion {
  std::uint64_t generation;
  std::int32_t partition;
  std::string topic;  // empty: a record whose offset is not stored (decisions, tick markers)
  std::int64_t offset;
  bool ok;
  std::string error;
};

struct source_ref {
  std::string topic;  // empty for a tick
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// One record for the emitter thread to encode and produce, in the order the router made them.
struct emission {
  std::string topic;
  std::int32_t partition = -1;  // -1: by key
  std::string key;
  std::string value;                       // ready, or empty while `record` is set
  std::optional<core::assignment> record;  // encoded by the emitter
  std::optional<step> marker_step;         // a marker's step, serialized into record's `step`
  completion on_done;
};

// At most this many records wait for the emitter; the router thread waits when it is full.
constexpr std::size_t emit_queue_limit = 4096;

}  // namespace

struct router::impl {
  router_options opts;
  // The router's own producer, in gapless mode: the changelog on Kafka is always a prefix of what
  // the router produced, so a rebuild never meets a marker whose predecessor is missing (which
  // would make it skip that predecessor's input as already recorded). Replaced after a fatal error
  // (rebuild_producer); the emitter takes its pointer per batch.
  std::mutex producer_mutex;
  std::shared_ptr<core::bus::producer> producer;
  std::unique_ptr<history::store> history;
  core::identity_normalizer normalizer;
  std::unique_ptr<core::bus::consumer> consumer;

  std::thread thread;
  std::atomic<bool> stopping{false};
  std::once_flag stop_once;

  std::mutex completions_mutex;
  std::vector<completion> completions;
  // Records handed to the emitter and not yet reported delivered (or refused).
  std::atomic<std::int64_t> outstanding{0};

  // The emitter: encodes the router's records and produces them, in order, on its own thread
  // (README, "Threading"), so that JSON encoding and the producer's work overlap the routing.
  std::thread emitter;
  std::mutex emit_mutex;
  std::condition_variable emit_ready, emit_space;
  std::vector<emission> emit_queue;
  bool emit_stop = false;
  // Set by the emitter when the producer refused a record: every record after it fails too, so
  // none of them can reach the changelog behind the missing one. Cleared by a rebuild, once
  // nothing is outstanding.
  bool emit_broken = false;

  std::map<std::int32_t, std::unique_ptr<partition_state>> partitions;
  std::uint64_t next_generation = 0;
  bool resync = false;

  mutable std::mutex stats_mutex;
  router_statistics stats;

  core::metrics::histogram& decision_seconds = core::metrics::global().histogram_of(
      "omniroute_routing_decision_seconds",
      "Time the router took for one step (input consumed to decisions produced).");
  std::map<std::string, core::metrics::counter*> decision_counters;
  std::map<std::string, core::metrics::gauge*> waiting_gauges, service_level_gauges;
  clock_type::time_point next_gauges = clock_type::now();
  clock_type::time_point next_stats = clock_type::now();
  std::mutex reconfigure_mutex;
  std::optional<router_config> pending_config;  // from reconfigure(), applied by the loop
  // The history row of the contact arriving in the step being processed (resolve_customer), kept
  // until the step's decisions say whether it was assigned at once (record_arrival).
  std::optional<history::contact_record> arrival_record;

  explicit impl(router_options o) : opts(std::move(o)), normalizer(opts.config.default_region) {}

  core::result<std::shared_ptr<core::bus::producer>> make_producer() const {
    auto p = core::bus::producer::create(opts.kafka, "omniroute-router-" + opts.node_id,
                                         core::bus::delivery_mode::gapless);
    if (!p) return p.err();
    return std::shared_ptr<core::bus::producer>(std::move(*p));
  }

  // ---- bookkeeping shared by live steps and replay --------------------------------------------

  domain_state& domain_of(partition_state& ps, const std::string& name) {
    auto& slot = ps.domains[name];
    if (!slot) {
      slot = std::make_unique<domain_state>(opts.config.seen_window);
      slot->name = name;
      slot->engine = std::make_unique<eng::engine>(opts.config.engine);
    }
    return *slot;
  }

  void forget(domain_state& d, const std::string& contact) {
    auto it = d.contacts.find(contact);
    if (it == d.contacts.end()) return;
    auto conv = d.conversations.find(it->second.conversation);
    if (conv != d.conversations.end() && conv->second == contact) d.conversations.erase(conv);
    d.contacts.erase(it);
  }

  // Applies a step to the domain: engine inputs (or a tick), then what the router keeps.
  std::vector<eng::decision> apply(domain_state& d, const step& s, bool tick) {
    std::vector<eng::decision> out;
    if (tick) d.engine->tick(s.now, out);
    for (const auto& in : s.inputs) {
      auto r = d.engine->handle(in, s.now, out);
      if (r != eng::input_result::ok)
        logger().debug("domain {}: input refused by the engine: {}", d.name, eng::to_string(r));
    }
    for (const auto& m : s.arrivals) {
      auto& kept = d.contacts[m.id] = m;
      for (const auto& in : s.inputs)
        if (const auto* a = std::get_if<eng::contact_arrived>(&in); a && a->item.id == m.id) {
          kept.text = cut_utf8(a->item.text, core::codec_limits::max_subject_bytes);
          kept.text_cut = kept.text.size() < a->item.text.size();
        }
      if (!m.conversation.empty()) d.conversations[m.conversation] = m.id;
    }
    for (const auto& id : s.seen)
      if (!id.empty()) d.seen.insert(id);
    for (const auto& id : s.finished) forget(d, id);
    for (const auto& dec : out)
      if (dec.kind == eng::decision_kind::abandon || dec.kind == eng::decision_kind::expire)
        forget(d, dec.contact);
    return out;
  }

  // ---- producing -------------------------------------------------------------------------------

  void post_completion(completion c) {
    std::lock_guard lock(completions_mutex);
    completions.push_back(std::move(c));
  }

  // Hands a record to the emitter (router thread), waiting while the emitter is emit_queue_limit
  // records behind. Counted in `outstanding` from here until its delivery report.
  void emit(emission e) {
    outstanding.fetch_add(1);
    std::unique_lock lock(emit_mutex);
    // Stopping while Kafka is away: the queue may never drain; the record then fails in
    // produce_now.
    emit_space.wait(lock, [&] { return emit_queue.size() < emit_queue_limit || stopping.load(); });
    emit_queue.push_back(std::move(e));
    if (emit_queue.size() == 1) emit_ready.notify_one();
  }

  // A record whose value is ready, to omni.assignments partition `partition` (or by key: -1).
  void produce_to(const std::string& topic, std::int32_t partition, const std::string& key,
                  std::string value, completion on_done) {
    emit({topic, partition, key, std::move(value), std::nullopt, std::nullopt, std::move(on_done)});
  }

  // A record the emitter encodes (with the step of a marker).
  void produce_record(const std::string& topic, std::int32_t partition, const std::string& key,
                      core::assignment record, completion on_done,
                      std::optional<step> marker_step = std::nullopt) {
    emit(
        {topic, partition, key, {}, std::move(record), std::move(marker_step), std::move(on_done)});
  }

  // The emitter thread: takes every waiting record at once, encodes and produces them in order.
  // Runs until stop_emitter(), after the router thread has settled everything it emitted.
  void run_emitter() {
    std::vector<emission> batch;
    for (;;) {
      std::shared_ptr<core::bus::producer> to;
      bool broken = false;
      {
        std::unique_lock lock(emit_mutex);
        emit_ready.wait(lock, [&] { return !emit_queue.empty() || emit_stop; });
        if (emit_queue.empty()) return;  // stopping, nothing left
        batch.swap(emit_queue);
        broken = emit_broken;
      }
      {
        std::lock_guard lock(producer_mutex);
        to = producer;
      }
      emit_space.notify_all();
      for (auto& e : batch) {
        if (broken) {
          fail_emission(e, "an earlier record was refused");
          continue;
        }
        if (e.record) {
          if (e.marker_step)
            core::put_split_attribute(e.record->attributes, "step", encode_step(*e.marker_step),
                                      step_chunk);
          e.value = core::encode(*e.record);
        }
        broken = !produce_now(*to, e);
      }
      batch.clear();
      if (broken) {
        std::lock_guard lock(emit_mutex);
        emit_broken = true;
      }
    }
  }

  void fail_emission(emission& e, const char* why) {
    post_completion({e.on_done.generation, e.on_done.partition, "", -1, false, why});
    outstanding.fetch_sub(1);
  }

  void stop_emitter() {
    {
      std::lock_guard lock(emit_mutex);
      emit_stop = true;
    }
    emit_ready.notify_one();
    if (emitter.joinable()) emitter.join();
  }

  // Produces one record, waiting out a full local queue (emitter thread); false when it was
  // refused (or the router stops while the queue stays full). A refused record is reported as a
  // failed delivery: the router thread then rebuilds (drain_completions).
  bool produce_now(core::bus::producer& to, emission& e) {
    auto handler = [this, c = e.on_done](const core::bus::delivery& d) mutable {
      c.ok = d.ok;
      c.error = d.error;
      post_completion(std::move(c));
      outstanding.fetch_sub(1);
    };
    for (;;) {
      auto st = e.partition >= 0 ? to.produce(e.topic, e.partition, e.key, e.value, handler)
                                 : to.produce(e.topic, e.key, e.value, handler);
      if (st == core::bus::produce_status::queued) return true;
      if (st == core::bus::produce_status::failed || stopping.load()) {
        fail_emission(e, st == core::bus::produce_status::failed ? "produce refused"
                                                                 : "stopping with Kafka away");
        return false;
      }
      std::this_thread::sleep_for(1ms);  // queue full: back-pressure
    }
  }

  core::assignment record_of(domain_state& d, const eng::decision& dec, const std::string& step_tag,
                             eng::timestamp now) {
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
        if (!m.customer_id.empty()) a.attributes["customer_id"] = m.customer_id;
        a.attributes["history"] = m.history.empty() ? "[]" : m.history;
        a.attributes["display_name"] = m.display_name;
        a.attributes["channel"] = m.channel;
        a.attributes["provider"] = m.provider;
        a.attributes["conversation"] = m.conversation;
        a.attributes["subject"] = m.subject;
        a.attributes["snippet"] = m.snippet;
        a.attributes["text"] = m.text;
        if (m.text_cut) a.attributes["text_truncated"] = "true";
        if (!m.recipient.kind.empty()) {
          a.attributes["recipient_kind"] = m.recipient.kind;
          a.attributes["recipient_value"] = m.recipient.value;
        }
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
  void publish(partition_state& ps, domain_state& d, step s, bool tick,
               const std::vector<eng::decision>& out, const source_ref& src,
               std::string_view answered = {}) {
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
    produce_record(changelog, ps.partition, d.name, std::move(marker),
                   {ps.generation, ps.partition, tick ? "" : src.topic, src.offset, false, {}},
                   std::move(s));
    if (!tick) ps.pending[src.topic].push_back({src.offset, false});
  }

  void notify_expected_wait(domain_state& d, const contact_meta& m, eng::timestamp now) {
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

  void count_decision(const std::string& type) {
    auto& c = decision_counters[type];
    if (!c)
      c = &core::metrics::global().counter_of("omniroute_router_decisions_total",
                                              "Decisions the router published, by type.",
                                              {{"type", type}});
    c->inc();
    std::lock_guard lock(stats_mutex);
    stats.decisions++;
  }

  // ---- turning consumed messages into steps ----------------------------------------------------

  // Takes the decoded contact apart: the strings only the engine input needs are moved into it.
  std::optional<step> contact_step(domain_state& d, core::contact& c, eng::timestamp now) {
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
          s.message = follow_up{c.id, conv->second,
                                st->state == eng::contact_state::waiting ? "" : st->agent,
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
  void resolve_customer(domain_state& d, const core::contact& c, eng::timestamp now,
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
      logger().info("history: customer {} merged into {} (contact {})", merged, r->customer_id,
                    c.id);
    if (a.item.customer_tier.empty()) a.item.customer_tier = r->tier;
    const int n = opts.config.history_length;
    // A customer created by this contact has no history yet.
    auto recent = r->created ? std::vector<history::contact_record>{}
                             : history->recent(r->customer_id, n + 1);
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
  std::string record_arrival(const std::vector<eng::decision>& out) {
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

  std::optional<step> agent_step(domain_state& d, const core::agent_event& e, eng::timestamp now) {
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
  void transfer_step(domain_state& d, const core::agent_event& e, eng::timestamp now, step& s) {
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

  // ---- the live path ---------------------------------------------------------------------------

  void mark_done(partition_state& ps, const std::string& topic, std::int64_t offset) {
    auto& q = ps.pending[topic];
    if (q.empty()) {
      consumer->store({topic, ps.partition, offset, {}, {}, -1});
      return;
    }
    q.push_back({offset, true});
  }

  void process(const core::bus::message& msg, std::optional<eng::timestamp> forced_now = {}) {
    auto pit = partitions.find(msg.partition);
    if (pit == partitions.end()) return;
    partition_state& ps = *pit->second;
    if (auto rec = ps.recorded.find(msg.topic); rec != ps.recorded.end()) {
      auto& offsets = rec->second;
      const bool recorded = offsets.count(msg.offset) > 0;  // redelivered after recovery
      offsets.erase(offsets.begin(), offsets.upper_bound(msg.offset));  // consumed in order
      if (offsets.empty()) ps.recorded.erase(rec);
      if (recorded) {
        mark_done(ps, msg.topic, msg.offset);
        return;
      }
    }
    const auto started = clock_type::now();
    const eng::timestamp now = forced_now.value_or(wall_now());
    arrival_record.reset();
    std::optional<step> s;
    domain_state* d = nullptr;
    bool duplicate = false;
    if (msg.topic == opts.topics.contacts) {
      auto c = core::decode_contact(msg.value);
      if (!c) {
        logger().warn("{}[{}]@{}: not a contact: {}", msg.topic, msg.partition, msg.offset,
                      c.err().to_string());
      } else {
        d = &domain_of(ps, c->domain.empty() ? msg.key : c->domain);
        duplicate = d->seen.contains(c->id);
        if (!duplicate) s = contact_step(*d, *c, now);
      }
    } else {
      auto e = core::decode_agent_event(msg.value);
      if (!e) {
        logger().warn("{}[{}]@{}: not an agent event: {}", msg.topic, msg.partition, msg.offset,
                      e.err().to_string());
      } else {
        d = &domain_of(ps, e->domain.empty() ? msg.key : e->domain);
        duplicate = !e->id.empty() && d->seen.contains(e->id);
        if (!duplicate) s = agent_step(*d, *e, now);
      }
    }
    if (duplicate) {
      std::lock_guard lock(stats_mutex);
      stats.duplicates++;
    }
    if (!s || !d) {
      mark_done(ps, msg.topic, msg.offset);
      return;
    }
    auto out = apply(*d, *s, false);
    const std::string answered = record_arrival(out);
    publish(ps, *d, std::move(*s), false, out, {msg.topic, msg.partition, msg.offset}, answered);
    decision_seconds.observe(std::chrono::duration<double>(clock_type::now() - started).count());
    std::lock_guard lock(stats_mutex);
    stats.steps++;
  }

  void tick_due(eng::timestamp now) {
    for (auto& [p, ps] : partitions) {
      for (auto& [name, d] : ps->domains) {
        auto due = d->engine->next_deadline();
        if (!due || *due > now) continue;
        run_tick(*ps, *d, now);
      }
    }
  }

  void run_tick(partition_state& ps, domain_state& d, eng::timestamp now) {
    step s;
    s.now = now;
    auto out = apply(d, s, true);
    publish(ps, d, std::move(s), true, out, {});
    std::lock_guard lock(stats_mutex);
    stats.steps++;
  }

  std::chrono::milliseconds poll_timeout(eng::timestamp now) const {
    eng::timestamp wait = 100;
    for (const auto& [p, ps] : partitions)
      for (const auto& [name, d] : ps->domains)
        if (auto due = d->engine->next_deadline()) wait = std::min(wait, *due - now);
    return std::chrono::milliseconds(std::max<eng::timestamp>(wait, 0));
  }

  void drain_completions() {
    std::vector<completion> batch;
    {
      std::lock_guard lock(completions_mutex);
      batch.swap(completions);
    }
    for (auto& c : batch) {
      if (!c.ok) {
        logger().error("changelog delivery to partition {} failed ({}): rebuilding from Kafka",
                       c.partition, c.error);
        resync = true;
        continue;
      }
      if (c.topic.empty()) continue;
      auto pit = partitions.find(c.partition);
      if (pit == partitions.end() || pit->second->generation != c.generation) continue;
      partition_state& ps = *pit->second;
      auto& q = ps.pending[c.topic];
      for (auto& p : q)
        if (p.offset == c.offset) p.done = true;
      std::int64_t last = -1;
      while (!q.empty() && q.front().done) {
        last = q.front().offset;
        q.pop_front();
      }
      if (last >= 0) consumer->store({c.topic, ps.partition, last, {}, {}, -1});
    }
  }

  // Waits until every record produced so far has its delivery report, then stores offsets.
  void settle(std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    while (outstanding.load() > 0 && clock_type::now() < deadline) {
      drain_completions();
      std::this_thread::sleep_for(2ms);
    }
    drain_completions();
  }

  // Before a rebuild: every record produced so far has its delivery report (records never expire,
  // so this lasts as long as Kafka is away), then the emitter may produce again. False when the
  // router stops meanwhile.
  bool settle_all() {
    for (int seconds = 0; outstanding.load() > 0; ++seconds) {
      if (stopping.load()) return false;
      if (opts.loop_beat) opts.loop_beat->fetch_add(1, std::memory_order_relaxed);
      if (seconds > 0 && seconds % 10 == 0)
        logger().warn("router: {} record(s) still waiting for Kafka before the rebuild",
                      outstanding.load());
      settle(1s);
    }
    drain_completions();
    std::lock_guard lock(emit_mutex);
    emit_broken = false;
    return true;
  }

  // A producer that raised a fatal error delivers nothing more: the rebuild gets a new one
  // (nothing is outstanding, so the emitter does not hold the old one).
  std::optional<std::string> rebuild_producer() {
    {
      std::lock_guard lock(producer_mutex);
      if (producer && !producer->fatal()) return std::nullopt;
    }
    logger().warn("router: the producer had a fatal error; creating a new one");
    auto p = make_producer();
    if (!p) return p.err().to_string();
    std::lock_guard lock(producer_mutex);
    producer = std::move(*p);
    return std::nullopt;
  }

  // ---- recovery --------------------------------------------------------------------------------

  void recover(std::int32_t p) {
    const auto started = clock_type::now();
    auto ps = std::make_unique<partition_state>();
    ps->partition = p;
    ps->generation = ++next_generation;
    struct unfinished {
      std::string domain;
      std::string step_tag;
      eng::timestamp now = 0;
    };
    std::optional<unfinished> orphan;
    std::uint64_t replayed = 0;
    bool truncated = false;
    auto r = core::bus::read_partition(
        opts.kafka, opts.topics.assignments, p, 0,
        [&](const core::bus::message& m) {
          if (replayed == 0 && !truncated && m.offset > 0) {
            truncated = true;  // the broker deleted the start of the changelog (retention)
            logger().error(
                "partition {}: the changelog starts at offset {}, not 0: steps before it are lost "
                "and the rebuilt state is incomplete (retention on {} must keep everything; the "
                "embedded cluster keeps only the newest 5 MiB per partition)",
                p, m.offset, opts.topics.assignments);
          }
          auto a = core::decode_assignment(m.value);
          if (!a) {
            logger().warn("{}[{}]@{}: skipped in replay: {}", m.topic, p, m.offset,
                          a.err().to_string());
            return true;
          }
          domain_state& d = domain_of(*ps, a->domain);
          auto attr = [&](const char* k) {
            auto it = a->attributes.find(k);
            return it == a->attributes.end() ? std::string() : it->second;
          };
          if (a->type == "stats") return true;  // for desks only; no routing state
          if (a->type != "input" && a->type != "tick") {
            if (a->seq > d.seq)
              orphan = unfinished{a->domain, attr("step"), to_int(attr("now"), a->at)};
            return true;
          }
          if (a->seq <= d.seq) return true;  // a step redone after a crash, recorded twice
          const std::string topic = attr("source_topic");
          std::int64_t offset = -1;
          if (a->type == "input") {
            offset = to_int(attr("source_offset"), -1);
            if (ps->recorded[topic].count(offset)) return true;
          }
          auto s = decode_step(core::joined_attribute(a->attributes, "step"));
          if (!s) {
            logger().error("{}[{}]@{}: {}", m.topic, p, m.offset, s.err().to_string());
            return true;
          }
          (void)apply(d, *s, a->type == "tick");
          d.seq = a->seq;
          if (offset >= 0) ps->recorded[topic].insert(offset);
          orphan.reset();
          ++replayed;
          return true;
        },
        120s);
    if (!r) {
      logger().error("recovery of partition {} failed: {}; will retry", p, r.err().to_string());
      resync = true;
      return;
    }
    // Inputs before the group's committed offset are not delivered again: forget their markers.
    for (auto it = ps->recorded.begin(); it != ps->recorded.end();) {
      if (auto c = consumer->committed(it->first, p, 10s); c && *c > 0)
        it->second.erase(it->second.begin(), it->second.lower_bound(*c));
      else if (!c)
        logger().warn("partition {}: {}; keeping every recorded offset", p, c.err().to_string());
      it = it->second.empty() ? ps->recorded.erase(it) : std::next(it);
    }
    const double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
    logger().info(
        "partition {}: rebuilt {} domain(s) from {} changelog record(s), {} step(s) in {:.3f}s "
        "({:.0f} steps/s)",
        p, ps->domains.size(), *r, replayed, seconds, replayed / std::max(seconds, 1e-6));
    {
      std::lock_guard lock(stats_mutex);
      stats.replayed_steps += replayed;
      stats.replay_seconds += seconds;
      stats.recoveries++;
    }
    partition_state& owned = *ps;
    partitions[p] = std::move(ps);
    if (orphan) redo(owned, *orphan);
  }

  // The last step of the partition had published decisions but no marker: do it again, at the
  // same `now`, so it publishes the same decisions under the same ids, then its marker.
  template <class U>
  void redo(partition_state& ps, const U& orphan) {
    logger().info("partition {}: finishing the interrupted step {} of domain {}", ps.partition,
                  orphan.step_tag, orphan.domain);
    if (orphan.step_tag == "tick") {
      run_tick(ps, domain_of(ps, orphan.domain), orphan.now);
      return;
    }
    const auto at = orphan.step_tag.rfind('@');
    if (at == std::string::npos) return;
    const std::string topic = orphan.step_tag.substr(0, at);
    const std::int64_t offset = to_int(orphan.step_tag.substr(at + 1), -1);
    if (offset < 0) return;
    std::optional<core::bus::message> source;
    auto r = core::bus::read_partition(
        opts.kafka, topic, ps.partition, offset,
        [&](const core::bus::message& m) {
          source = m;
          return false;
        },
        30s);
    if (!r || !source || source->offset != offset) {
      logger().warn("partition {}: cannot fetch {} to finish its step; it is redelivered instead",
                    ps.partition, orphan.step_tag);
      return;
    }
    process(*source, orphan.now);
  }

  void on_assigned(const std::vector<core::bus::topic_partition>& parts) {
    std::set<std::int32_t> wanted;
    for (const auto& tp : parts)
      if (tp.topic == opts.topics.contacts || tp.topic == opts.topics.agent_events)
        wanted.insert(tp.partition);
    for (auto p : wanted)
      if (!partitions.count(p)) recover(p);
    if (opts.on_health) opts.on_health(!resync);
  }

  void on_revoked(const std::vector<core::bus::topic_partition>& parts) {
    // Everything published for these partitions reaches Kafka and its offsets are stored before
    // the group hands them to another node (which then replays our changelog in full).
    settle(10s);
    for (const auto& tp : parts) partitions.erase(tp.partition);
  }

  std::optional<std::string> make_consumer() {
    core::bus::consumer_options co;
    co.group_id = opts.group_id;
    co.topics = {opts.topics.contacts, opts.topics.agent_events};
    co.assignment_strategy = "range";
    co.on_assigned = [this](const auto& parts) { on_assigned(parts); };
    co.on_revoked = [this](const auto& parts) { on_revoked(parts); };
    // Failover speed: a crashed router's domains move after the session timeout, so keep it
    // short unless the operator chose otherwise (kafka.client).
    core::bus::settings kafka = opts.kafka;
    kafka.client.try_emplace("session.timeout.ms", "6000");
    kafka.client.try_emplace("heartbeat.interval.ms", "1000");
    // Latency: a fetch that finds nothing new returns after at most 10 ms (the mock cluster holds
    // it for the whole wait even when data arrives).
    kafka.client.try_emplace("fetch.wait.max.ms", "10");
    auto c = core::bus::consumer::create(kafka, std::move(co));
    if (!c) return c.err().to_string();
    consumer = std::move(*c);
    return std::nullopt;
  }

  void update_gauges() {
    std::map<std::string, std::pair<double, std::array<double, 2>>> per_queue;
    const auto now = wall_now();
    for (const auto& [p, ps] : partitions)
      for (const auto& [name, d] : ps->domains)
        for (const auto& q : d->engine->queue_statuses(now)) {
          auto& e = per_queue[q.name];
          e.first += static_cast<double>(q.waiting);
          e.second[0] += static_cast<double>(q.answered_within_sla);
          e.second[1] += static_cast<double>(q.answered + q.abandoned + q.expired);
        }
    for (const auto& [queue, e] : per_queue) {
      auto& w = waiting_gauges[queue];
      if (!w)
        w = &core::metrics::global().gauge_of("omniroute_queue_waiting",
                                              "Contacts waiting in the queue, all domains.",
                                              {{"queue", queue}});
      w->set(e.first);
      auto& sl = service_level_gauges[queue];
      if (!sl)
        sl = &core::metrics::global().gauge_of(
            "omniroute_queue_service_level",
            "Share of contacts answered within the SLA threshold (answered / finished).",
            {{"queue", queue}});
      sl->set(e.second[1] > 0 ? e.second[0] / e.second[1] : 1.0);
    }
    std::size_t domains = 0;
    for (const auto& [p, ps] : partitions) domains += ps->domains.size();
    std::lock_guard lock(stats_mutex);
    stats.partitions = partitions.size();
    stats.domains = domains;
  }

  // Each domain's queue and agent statistics as a `stats` record on its changelog partition (the
  // desk gateway's live view; replay skips them). Values longer than one attribute allows are
  // split into `queues`, `queues.1001`, ... like steps.
  void publish_stats(eng::timestamp now) {
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

  using json = nlohmann::json;

  static json queue_json(const eng::queue_view& q) {
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

  static json agent_json(const eng::agent_view& a) {
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

  void apply_pending_config() {
    std::optional<router_config> next;
    {
      std::lock_guard lock(reconfigure_mutex);
      next.swap(pending_config);
    }
    if (!next) return;
    const auto now = wall_now();
    std::size_t domains = 0, decisions = 0;
    for (auto& [p, ps] : partitions)
      for (auto& [name, d] : ps->domains) {
        std::vector<eng::decision> out;
        auto problems = d->engine->reconfigure(next->engine, now, out);
        if (!problems.empty()) {  // parse_router_config validated it: not expected
          logger().error("router: domain {} refused the new configuration: {}", name, problems);
          continue;
        }
        // Skills and capacity of configured agents who are logged in now take effect at once.
        step s;
        s.now = now;
        for (const auto& [id, profile] : next->agents) {
          auto before = opts.config.agents.find(id);
          if (before != opts.config.agents.end() && before->second.skills == profile.skills &&
              before->second.capacity == profile.capacity)
            continue;
          if (!d->engine->agent_status(id, now)) continue;
          s.inputs.push_back(eng::agent_update{id, profile.skills, profile.capacity});
        }
        for (auto& dec : apply(*d, s, false)) out.push_back(std::move(dec));
        ++domains;
        decisions += out.size();
        if (out.empty() && s.inputs.empty()) continue;
        publish(*ps, *d, std::move(s), true, out, {});  // a tick marker: replay applies its inputs
      }
    opts.config = std::move(*next);
    logger().info("router: configuration reloaded ({} domain(s) reconfigured, {} decision(s))",
                  domains, decisions);
  }

  void run() {
    while (!stopping.load()) {
      apply_pending_config();
      if (opts.loop_beat) opts.loop_beat->fetch_add(1, std::memory_order_relaxed);
      if (resync) {
        logger().warn("router: leaving the group to rebuild every partition from the changelog");
        if (opts.on_health) opts.on_health(false);
        if (!settle_all()) break;  // stopping
        if (auto err = rebuild_producer()) {
          logger().error("router: cannot replace the producer: {}", *err);
          std::this_thread::sleep_for(1s);
          continue;
        }
        consumer.reset();
        partitions.clear();
        resync = false;
        if (auto err = make_consumer()) {
          logger().error("router: cannot rejoin: {}", *err);
          resync = true;
          std::this_thread::sleep_for(1s);
          continue;
        }
      }
      drain_completions();
      auto m = consumer->poll(poll_timeout(wall_now()));
      {
        // One history transaction per batch, committed before the next drain_completions()
        // stores the batch's offsets.
        std::optional<history::store::batch> tx;
        if (history && m) tx.emplace(*history);
        for (int batch = 0; m && batch < 500; ++batch) {
          process(*m);
          m = consumer->poll(0ms);
        }
        if (m) process(*m);
        tick_due(wall_now());
      }
      if (clock_type::now() >= next_gauges) {
        update_gauges();
        next_gauges = clock_type::now() + 1s;
      }
      if (opts.config.stats_interval > 0 && clock_type::now() >= next_stats) {
        publish_stats(wall_now());
        next_stats = clock_type::now() + std::chrono::milliseconds(opts.config.stats_interval);
      }
    }
    settle(10s);
    if (consumer) consumer->close();
  }
};

router::router(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

core::result<std::unique_ptr<router>> router::start(router_options options) {
  if (auto problems = eng::validate(options.config.engine); !problems.empty())
    return core::error{problems, "routing"};
  auto p = std::make_unique<impl>(std::move(options));
  auto producer = p->make_producer();
  if (!producer) return producer.err();
  p->producer = std::move(*producer);
  if (!p->opts.state_dir.empty()) {
    auto h = history::store::open(p->opts.state_dir / "history.db");
    if (!h) return h.err();
    p->history = std::move(*h);
  }
  if (auto err = p->make_consumer()) return core::error{*err, "kafka"};
  impl* raw = p.get();
  p->emitter = std::thread([raw] {
    pthread_setname_np(pthread_self(), "omni-router-out");
    raw->run_emitter();
  });
  p->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "omni-router");  // its own line in top -H and perf
    // An exception leaving a step ends nothing but that step: the router leaves the group and
    // rebuilds every partition from the changelog, the recovery it uses after a failed delivery.
    for (;;) {
      try {
        raw->run();
        return;
      } catch (const std::exception& e) {
        logger().error("router: step failed with an exception ({}); rebuilding from Kafka",
                       e.what());
      } catch (...) {
        logger().error("router: step failed with an exception; rebuilding from Kafka");
      }
      core::metrics::global()
          .counter_of("omniroute_router_exceptions_total",
                      "Exceptions that ended a router step (the router rebuilt from Kafka).")
          .inc();
      raw->resync = true;
    }
  });
  logger().info("router: joined group {} on {} and {}", raw->opts.group_id,
                raw->opts.topics.contacts, raw->opts.topics.agent_events);
  return std::unique_ptr<router>(new router(std::move(p)));
}

router::~router() { stop(); }

void router::stop() {
  if (!impl_) return;
  std::call_once(impl_->stop_once, [this] {
    {
      std::lock_guard lock(impl_->emit_mutex);  // wakes a router thread waiting for queue space
      impl_->stopping = true;
    }
    impl_->emit_space.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();  // settles what it emitted first
    impl_->stop_emitter();
    impl_->consumer.reset();
    // Flushes what is left (bounded), then fails the rest: their inputs' offsets were never
    // stored, so the next owner consumes them again.
    impl_->producer.reset();
  });
}

void router::reconfigure(router_config config) {
  std::lock_guard lock(impl_->reconfigure_mutex);
  impl_->pending_config = std::move(config);
}

router_statistics router::statistics() const {
  std::lock_guard lock(impl_->stats_mutex);
  return impl_->stats;
}

}  // namespace omni::routing::service
