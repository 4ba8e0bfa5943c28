#include "core/events/codec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

#include "core/events/encoded_size.h"
#include "core/events/json_writer.h"
#include "core/events/object_reader.h"
#include "core/json/parse.h"

namespace omni::core {

using detail::contact_size;
using detail::contact_string_fields;
using detail::object_reader;
using detail::size_of;
using detail::text_bytes;

namespace {

using json = nlohmann::json;

// Parses the document and checks the envelope: an object whose `schema` is the expected one.
result<json> parse_envelope(std::string_view text, std::string_view schema) {
  if (text.size() > codec_limits::max_message_bytes) {
    return error{"message too large (" + std::to_string(text.size()) + " bytes, at most " +
                     std::to_string(codec_limits::max_message_bytes) + ")",
                 ""};
  }
  auto parsed = parse_json(text);
  if (!parsed) return parsed.err();
  json doc = std::move(*parsed);
  if (!doc.is_object()) return error{"must be a JSON object", ""};
  auto it = doc.find("schema");
  if (it == doc.end() || !it->is_string()) return error{"is required (a string)", "schema"};
  if (it->get_ref<const std::string&>() != schema) {
    return error{"is '" + it->get<std::string>() + "', expected '" + std::string(schema) + "'",
                 "schema"};
  }
  return doc;
}

}  // namespace

// ---- enums ------------------------------------------------------------------------------------

std::string_view to_string(channel c) {
  switch (c) {
    case channel::email:
      return "email";
    case channel::chat:
      return "chat";
    case channel::messenger:
      return "messenger";
    case channel::voice:
      return "voice";
    case channel::sms:
      return "sms";
  }
  return "chat";
}

std::optional<channel> parse_channel(std::string_view s) {
  for (channel c :
       {channel::email, channel::chat, channel::messenger, channel::voice, channel::sms})
    if (to_string(c) == s) return c;
  return std::nullopt;
}

std::string_view to_string(contact_kind k) {
  return k == contact_kind::abandoned ? "abandoned" : "message";
}

static std::optional<contact_kind> parse_contact_kind(std::string_view s) {
  if (s == "message") return contact_kind::message;
  if (s == "abandoned") return contact_kind::abandoned;
  return std::nullopt;
}

static constexpr std::array agent_event_types = {
    agent_event_type::login,    agent_event_type::logout, agent_event_type::presence,
    agent_event_type::accept,   agent_event_type::reject, agent_event_type::complete,
    agent_event_type::transfer, agent_event_type::reply,  agent_event_type::skills,
    agent_event_type::heartbeat};

std::string_view to_string(agent_event_type t) {
  switch (t) {
    case agent_event_type::login:
      return "login";
    case agent_event_type::logout:
      return "logout";
    case agent_event_type::presence:
      return "presence";
    case agent_event_type::accept:
      return "accept";
    case agent_event_type::reject:
      return "reject";
    case agent_event_type::complete:
      return "complete";
    case agent_event_type::transfer:
      return "transfer";
    case agent_event_type::reply:
      return "reply";
    case agent_event_type::skills:
      return "skills";
    case agent_event_type::heartbeat:
      return "heartbeat";
  }
  return "heartbeat";
}

static std::optional<agent_event_type> parse_agent_event_type(std::string_view s) {
  for (auto t : agent_event_types)
    if (to_string(t) == s) return t;
  return std::nullopt;
}

std::string_view to_string(outbound_kind k) {
  switch (k) {
    case outbound_kind::reply:
      return "reply";
    case outbound_kind::notice:
      return "notice";
    case outbound_kind::typing:
      return "typing";
    case outbound_kind::joined:
      return "joined";
    case outbound_kind::ended:
      return "ended";
  }
  return "reply";
}

static std::optional<outbound_kind> parse_outbound_kind(std::string_view s) {
  for (auto k : {outbound_kind::reply, outbound_kind::notice, outbound_kind::typing,
                 outbound_kind::joined, outbound_kind::ended})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

// ---- contact ----------------------------------------------------------------------------------

// Keys in sorted order (see json_writer).
std::string encode(const contact& c) {
  const contact_size z = size_of(c);
  json_writer w(320 + text_bytes({}) * contact_string_fields + z.strings + 24 * z.identities +
                64 * z.attachments + 6 * z.attributes);
  w.begin_object();
  if (!c.attachments.empty()) {
    w.key("attachments");
    w.begin_array();
    for (const auto& a : c.attachments) {
      w.begin_object();
      w.field("content_type", a.content_type);
      w.field("name", a.name);
      w.field_if("ref", a.ref);
      if (a.size >= 0) w.field("size", a.size);
      w.end_object();
    }
    w.end_array();
  }
  w.map_if("attributes", c.attributes);
  w.field("channel", to_string(c.chan));
  w.field_if("conversation", c.conversation);
  w.key("customer");
  w.begin_object();
  w.field_if("display_name", c.customer.display_name);
  w.key("identities");
  w.begin_array();
  for (const auto& i : c.customer.identities) {
    w.begin_object();
    w.field("kind", i.kind);
    w.field("value", i.value);
    w.end_object();
  }
  w.end_array();
  w.field_if("tier", c.customer.tier);
  w.end_object();
  w.field("domain", c.domain);
  w.field("id", c.id);
  if (c.kind != contact_kind::message) w.field("kind", to_string(c.kind));
  w.field_if("language", c.language);
  w.field("provider", c.provider);
  w.time_field("received_at", c.received_at);
  w.field("schema", contact_schema);
  w.field("source_id", c.source_id);
  w.field_if("subject", c.subject);
  w.field("text", c.text);
  w.field_if("to", c.to);
  w.end_object();
  return w.take();
}

result<contact> decode_contact(std::string_view text) {
  auto doc = parse_envelope(text, contact_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  contact c;
  c.id = r.str("id", true);
  c.kind =
      r.enumeration("kind", false, contact_kind::message, parse_contact_kind, "message, abandoned");
  c.chan = r.enumeration("channel", true, channel::chat, parse_channel,
                         "email, chat, messenger, voice, sms");
  c.provider = r.str("provider", true);
  c.source_id = r.str("source_id", true);
  c.received_at = r.time("received_at", true);
  c.domain = r.str("domain", true);
  c.conversation = r.str("conversation", false);
  if (!r.failed()) {
    const json* cust = r.find("customer");
    if (!cust) {
      r.fail("customer", "is required");
    } else if (!cust->is_object()) {
      r.fail("customer", std::string("must be an object, got ") + cust->type_name());
    } else {
      object_reader cr(*cust, "customer");
      cr.array("identities", [&](const json& el, const std::string& path) {
        if (!el.is_object()) return cr.fail_path(path, "must be an object");
        object_reader ir(el, path);
        identity id{ir.str("kind", true), ir.str("value", true)};
        if (ir.failed()) return cr.fail_from(ir);
        c.customer.identities.push_back(std::move(id));
      });
      c.customer.display_name = cr.str("display_name", false);
      c.customer.tier = cr.str("tier", false);
      r.fail_from(cr);
    }
  }
  c.to = r.str("to", false);
  c.subject = r.str("subject", false, codec_limits::max_subject_bytes);
  c.text = r.str("text", false, codec_limits::max_text_bytes);
  r.array("attachments", [&](const json& el, const std::string& path) {
    if (!el.is_object()) return r.fail_path(path, "must be an object");
    object_reader ar(el, path);
    attachment a;
    a.name = ar.str("name", false);
    a.content_type = ar.str("content_type", false);
    a.size = ar.integer("size", false).value_or(-1);
    a.ref = ar.str("ref", false, codec_limits::max_subject_bytes);
    if (ar.failed()) return r.fail_from(ar);
    c.attachments.push_back(std::move(a));
  });
  c.language = r.str("language", false);
  c.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return c;
}

// ---- agent event ------------------------------------------------------------------------------

std::string encode(const agent_event& e) {
  std::size_t expect = 256 + text_bytes(e.id) + text_bytes(e.domain) + text_bytes(e.agent_id) +
                       text_bytes(e.presence) + text_bytes(e.contact_id) + text_bytes(e.reason) +
                       text_bytes(e.disposition) + text_bytes(e.target_queue) +
                       text_bytes(e.target_agent);
  for (const auto& [k, v] : e.skills) expect += 8 + k.size();
  for (const auto& [k, v] : e.capacity) expect += 8 + k.size();
  for (const auto& [k, v] : e.attributes) expect += 6 + k.size() + v.size();
  json_writer w(expect);
  w.begin_object();
  w.field("agent_id", e.agent_id);
  w.time_field("at", e.at);
  w.map_if("attributes", e.attributes);
  w.map_if("capacity", e.capacity);
  w.field_if("contact_id", e.contact_id);
  w.field_if("disposition", e.disposition);
  w.field("domain", e.domain);
  w.field("id", e.id);
  w.field_if("presence", e.presence);
  w.field_if("reason", e.reason);
  if (e.satisfaction) w.field("satisfaction", *e.satisfaction);
  w.field("schema", agent_event_schema);
  w.map_if("skills", e.skills);
  w.field_if("target_agent", e.target_agent);
  w.field_if("target_queue", e.target_queue);
  w.field("type", to_string(e.type));
  w.end_object();
  return w.take();
}

result<agent_event> decode_agent_event(std::string_view text) {
  auto doc = parse_envelope(text, agent_event_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  agent_event e;
  e.id = r.str("id", true);
  e.type = r.enumeration("type", true, agent_event_type::heartbeat, parse_agent_event_type,
                         "login, logout, presence, accept, reject, complete, transfer, reply, "
                         "skills, heartbeat");
  e.domain = r.str("domain", true);
  e.agent_id = r.str("agent_id", true);
  e.at = r.time("at", true);
  e.presence = r.str("presence", e.type == agent_event_type::presence);
  const bool needs_contact =
      e.type == agent_event_type::accept || e.type == agent_event_type::reject ||
      e.type == agent_event_type::complete || e.type == agent_event_type::transfer;
  e.contact_id = r.str("contact_id", needs_contact);
  e.reason = r.str("reason", false, codec_limits::max_subject_bytes);
  e.disposition = r.str("disposition", false);
  if (auto s = r.integer("satisfaction", false)) {
    if (*s < 1 || *s > 5) r.fail("satisfaction", "must be between 1 and 5");
    e.satisfaction = static_cast<int>(*s);
  }
  e.target_queue = r.str("target_queue", false);
  e.target_agent = r.str("target_agent", false);
  if (e.type == agent_event_type::transfer && !r.failed() && e.target_queue.empty() &&
      e.target_agent.empty())
    r.fail("target_queue", "a transfer needs target_queue or target_agent");
  e.skills = r.int_map("skills", 1, 10);
  e.capacity = r.int_map("capacity", 0, 1000);
  e.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return e;
}

// ---- assignment -------------------------------------------------------------------------------

std::string encode(const assignment& a) {
  std::size_t expect = 320 + text_bytes(a.id) + text_bytes(a.type) + text_bytes(a.domain) +
                       text_bytes(a.contact_id) + text_bytes(a.agent_id) + text_bytes(a.queue) +
                       text_bytes(a.reason.rule) + text_bytes(a.reason.strategy) +
                       text_bytes(a.reason.escalation_step) + text_bytes(a.reason.text);
  for (const auto& [k, v] : a.attributes) expect += 6 + k.size() + v.size();
  if (const auto& c = a.contact)
    expect += 200 + c->customer_id.size() + c->display_name.size() + c->conversation.size() +
              c->subject.size() + c->snippet.size() + text_bytes(c->text) +
              c->recipient.value.size() + c->history.size();
  json_writer w(expect);
  w.begin_object();
  w.field_if("agent_id", a.agent_id);
  w.time_field("at", a.at);
  w.map_if("attributes", a.attributes);
  if (const auto& c = a.contact) {
    w.key("contact").begin_object();
    w.field_if("channel", c->channel);
    w.field_if("conversation", c->conversation);
    w.field_if("customer_id", c->customer_id);
    w.field_if("display_name", c->display_name);
    w.key("history").raw(c->history.empty() ? "[]" : c->history);
    w.field_if("provider", c->provider);
    if (!c->recipient.kind.empty()) {
      w.key("recipient").begin_object();
      w.field("kind", c->recipient.kind);
      w.field("value", c->recipient.value);
      w.end_object();
    }
    w.field_if("snippet", c->snippet);
    w.field_if("subject", c->subject);
    w.field_if("text", c->text);
    if (c->text_truncated) w.key("text_truncated").boolean(true);
    w.end_object();
  }
  w.field_if("contact_id", a.contact_id);
  if (a.deadline) w.time_field("deadline", *a.deadline);
  w.field("domain", a.domain);
  w.field("id", a.id);
  if (a.priority) w.field("priority", *a.priority);
  w.field_if("queue", a.queue);
  w.key("reason");
  w.begin_object();
  w.key("affinity");
  w.boolean(a.reason.affinity);
  w.field("candidates", a.reason.candidates);
  w.field_if("escalation_step", a.reason.escalation_step);
  w.field_if("rule", a.reason.rule);
  w.field_if("strategy", a.reason.strategy);
  w.field_if("text", a.reason.text);
  w.end_object();
  w.field("schema", assignment_schema);
  w.field("seq", a.seq);
  w.field("type", a.type);
  w.end_object();
  return w.take();
}

result<assignment> decode_assignment(std::string_view text) {
  auto doc = parse_envelope(text, assignment_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  assignment a;
  a.id = r.str("id", true);
  a.type = r.str("type", true);
  a.domain = r.str("domain", true);
  a.seq = r.integer("seq", true).value_or(0);
  a.at = r.time("at", true);
  a.contact_id = r.str("contact_id", false);
  a.agent_id = r.str("agent_id", false);
  a.queue = r.str("queue", false);
  if (auto p = r.integer("priority", false)) a.priority = static_cast<int>(*p);
  a.deadline = r.optional_time("deadline");
  if (!r.failed()) {
    if (const json* reason = r.find("reason")) {
      if (!reason->is_object()) {
        r.fail("reason", "must be an object");
      } else {
        object_reader rr(*reason, "reason");
        a.reason.rule = rr.str("rule", false);
        a.reason.strategy = rr.str("strategy", false);
        a.reason.escalation_step = rr.str("escalation_step", false);
        a.reason.candidates = static_cast<int>(rr.integer("candidates", false).value_or(0));
        a.reason.affinity = rr.boolean("affinity").value_or(false);
        a.reason.text = rr.str("text", false, codec_limits::max_subject_bytes);
        r.fail_from(rr);
      }
    }
  }
  if (!r.failed()) {
    if (const json* contact = r.find("contact")) {
      if (!contact->is_object()) {
        r.fail("contact", "must be an object");
      } else {
        object_reader cr(*contact, "contact");
        offer_details c;
        c.customer_id = cr.str("customer_id", false);
        c.display_name = cr.str("display_name", false, codec_limits::max_subject_bytes);
        c.channel = cr.str("channel", false);
        c.provider = cr.str("provider", false);
        c.conversation = cr.str("conversation", false);
        c.subject = cr.str("subject", false, codec_limits::max_subject_bytes);
        c.snippet = cr.str("snippet", false, codec_limits::max_subject_bytes);
        c.text = cr.str("text", false, codec_limits::max_subject_bytes);
        c.text_truncated = cr.boolean("text_truncated").value_or(false);
        if (const json* to = cr.find("recipient")) {
          if (!to->is_object()) {
            cr.fail("recipient", "must be an object");
          } else {
            object_reader tr(*to, "contact.recipient");
            c.recipient = identity{tr.str("kind", true), tr.str("value", true)};
            cr.fail_from(tr);
          }
        }
        if (const json* h = cr.find("history")) {
          if (!h->is_array())
            cr.fail("history", "must be an array");
          else
            c.history = h->dump();
        }
        r.fail_from(cr);
        a.contact = std::move(c);
      }
    }
  }
  a.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return a;
}

// ---- outbound ---------------------------------------------------------------------------------

std::string encode(const outbound& o) {
  std::size_t expect = 288 + text_bytes(o.id) + text_bytes(o.domain) + text_bytes(o.conversation) +
                       text_bytes(o.contact_id) + text_bytes(o.provider) +
                       text_bytes(o.recipient.kind) + text_bytes(o.recipient.value) +
                       text_bytes(o.agent_id) + text_bytes(o.subject) + text_bytes(o.text) +
                       text_bytes(o.in_reply_to);
  for (const auto& r : o.references) expect += text_bytes(r);
  for (const auto& [k, v] : o.attributes) expect += 6 + k.size() + v.size();
  json_writer w(expect);
  w.begin_object();
  w.field_if("agent_id", o.agent_id);
  w.time_field("at", o.at);
  w.map_if("attributes", o.attributes);
  w.field("channel", to_string(o.chan));
  w.field_if("contact_id", o.contact_id);
  w.field("conversation", o.conversation);
  w.field("domain", o.domain);
  w.field("id", o.id);
  w.field_if("in_reply_to", o.in_reply_to);
  w.field("kind", to_string(o.kind));
  w.field_if("provider", o.provider);
  if (!o.recipient.kind.empty()) {
    w.key("recipient");
    w.begin_object();
    w.field("kind", o.recipient.kind);
    w.field("value", o.recipient.value);
    w.end_object();
  }
  if (!o.references.empty()) {
    w.key("references");
    w.begin_array();
    for (const auto& r : o.references) w.string(r);
    w.end_array();
  }
  w.field("schema", outbound_schema);
  w.field_if("subject", o.subject);
  w.field_if("text", o.text);
  w.end_object();
  return w.take();
}

result<outbound> decode_outbound(std::string_view text) {
  auto doc = parse_envelope(text, outbound_schema);
  if (!doc) return doc.err();
  object_reader r(*doc, "");
  outbound o;
  o.id = r.str("id", true);
  o.kind = r.enumeration("kind", true, outbound_kind::reply, parse_outbound_kind,
                         "reply, notice, typing, joined, ended");
  o.domain = r.str("domain", true);
  o.conversation = r.str("conversation", true);
  o.contact_id = r.str("contact_id", false);
  o.chan = r.enumeration("channel", true, channel::chat, parse_channel,
                         "email, chat, messenger, voice, sms");
  o.provider = r.str("provider", false);
  if (!r.failed()) {
    if (const json* rec = r.find("recipient")) {
      if (!rec->is_object()) {
        r.fail("recipient", "must be an object");
      } else {
        object_reader rr(*rec, "recipient");
        o.recipient = {rr.str("kind", true), rr.str("value", true)};
        r.fail_from(rr);
      }
    }
  }
  o.agent_id = r.str("agent_id", false);
  o.at = r.time("at", true);
  o.subject = r.str("subject", false, codec_limits::max_subject_bytes);
  o.text = r.str("text", false, codec_limits::max_text_bytes);
  o.in_reply_to = r.str("in_reply_to", false, codec_limits::max_subject_bytes);
  r.array("references", [&](const json& el, const std::string& path) {
    if (!el.is_string()) return r.fail_path(path, "must be a string");
    o.references.push_back(el.get<std::string>());
  });
  o.attributes = r.string_map("attributes");
  if (r.failed()) return r.take_error();
  return o;
}

}  // namespace omni::core
