#pragma once
// The canonical event model every half of omniroute shares (ARCHITECTURE.md, "Events").
// Plain value types: no I/O, no threads. JSON codecs live in core/events/codec.h and the JSON
// Schemas an integrator can validate against live in docs/schemas/.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omni::core {

// Milliseconds since the Unix epoch, UTC. On the wire: RFC 3339 with milliseconds
// ("...T03:37:48.123Z").
using timestamp_ms = std::int64_t;

enum class channel { email, chat, messenger, voice, sms };
std::string_view to_string(channel c);
std::optional<channel> parse_channel(std::string_view s);

inline constexpr std::string_view contact_schema = "omni.contact.v1";
inline constexpr std::string_view agent_event_schema = "omni.agent_event.v1";
inline constexpr std::string_view assignment_schema = "omni.assignment.v1";
inline constexpr std::string_view outbound_schema = "omni.outbound.v1";

// One way to reach a customer. `kind` is an open set of lower-case names: "email" and "phone"
// (E.164) are shared by every channel and normalized (core/identity); every other kind is one
// channel's own user id, named after the channel ("telegram", "vk", "viber", "visitor" for web
// chat, "external" for an integrator's id, ...). A new channel brings its kind with it: nothing
// here or in the router lists them; history links identities of any kind.
struct identity {
  std::string kind;
  std::string value;
  bool operator==(const identity&) const = default;
};

struct attachment {
  std::string name;
  std::string content_type;
  std::int64_t size = -1;  // bytes, -1 when the provider does not say
  std::string ref;         // provider's file id or URL, to fetch it later
  bool operator==(const attachment&) const = default;
};

struct customer_info {
  std::vector<identity> identities;
  std::string display_name;
  std::string tier;  // "vip", "key", ... from the source or the history service; empty when unknown
  bool operator==(const customer_info&) const = default;
};

// What a contact event says happened. `message` is the default: a customer wrote or called.
// `abandoned`: the customer left before being answered (a call hung up while ringing).
enum class contact_kind { message, abandoned };
std::string_view to_string(contact_kind k);

// omni.contact.v1: one inbound customer contact, as every connector produces it.
struct contact {
  std::string id;  // contact_id(provider, source_id): a re-delivered message gets the same id
  contact_kind kind = contact_kind::message;
  channel chan = channel::chat;
  std::string provider;   // "imap", "telegram", "whatsapp", "webchat", "asterisk", ...
  std::string source_id;  // the provider's own message / update / call id
  timestamp_ms received_at = 0;
  std::string domain;        // routing domain (tenant / site); Kafka key
  std::string conversation;  // thread root, chat session, messenger chat id, call linked id
  customer_info customer;
  std::string to;  // the address the customer contacted: mailbox, bot, phone number
  std::string subject;
  std::string text;  // UTF-8
  std::vector<attachment> attachments;
  std::string language;  // BCP 47 when known
  std::map<std::string, std::string> attributes;
  bool operator==(const contact&) const = default;
};

// Deterministic contact id: a hash of provider and the provider's message id, so a re-delivered
// webhook or a re-fetched mail gets the same id and is deduplicated downstream. 32 lowercase hex
// digits.
std::string contact_id(std::string_view provider, std::string_view source_id);

enum class agent_event_type {
  login,
  logout,
  presence,  // presence field says which
  accept,
  reject,
  complete,
  transfer,
  reply,   // the agent sent a reply (the reply itself goes to omni.outbound)
  skills,  // skills / capacity update
  heartbeat,
};
std::string_view to_string(agent_event_type t);

// omni.agent_event.v1: something an agent (or the desk gateway on the agent's behalf) did.
struct agent_event {
  std::string id;  // unique per event, for idempotent processing
  agent_event_type type = agent_event_type::heartbeat;
  std::string domain;
  std::string agent_id;
  timestamp_ms at = 0;
  std::string presence;               // presence: offline, available, away, wrap_up, not_responding
  std::string contact_id;             // accept / reject / complete / transfer / reply
  std::string reason;                 // reject reason, logout reason
  std::string disposition;            // complete
  std::optional<int> satisfaction;    // complete: 1..5 when a survey answered
  std::string target_queue;           // transfer
  std::string target_agent;           // transfer
  std::map<std::string, int> skills;  // skills: skill -> proficiency 1..10
  std::map<std::string, int> capacity;  // skills: channel -> concurrent contacts
  std::map<std::string, std::string> attributes;
  bool operator==(const agent_event&) const = default;
};

// Why the router decided what it did: "why this agent".
struct decision_reason {
  std::string rule;      // classification rule that matched
  std::string strategy;  // longest_idle, least_occupied, most_skilled, round_robin
  std::string escalation_step;
  int candidates = 0;  // eligible agents considered
  bool affinity = false;
  std::string text;  // a sentence for humans
  bool operator==(const decision_reason&) const = default;
};

// What an agent is shown with an offer (and an assign): who the customer is and what they wrote.
// The `contact` object of omni.assignment.v1. Records written before it existed carried the same
// values as string attributes (customer_id, display_name, ..., recipient_kind, recipient_value);
// readers fall back to those when a record has no `contact`.
struct offer_details {
  std::string customer_id;
  std::string display_name;
  std::string channel;
  std::string provider;
  std::string conversation;
  std::string subject;
  std::string snippet;  // the first characters of the text
  std::string text;     // the text, cut to codec_limits::max_subject_bytes
  bool text_truncated = false;
  identity recipient;          // where a reply goes
  std::string history = "[]";  // a JSON array: the customer's last contacts as of this one
  bool operator==(const offer_details&) const = default;
};

// omni.assignment.v1: one routing decision; the topic is also the router's changelog.
struct assignment {
  std::string id;  // unique per decision
  std::string
      type;  // offer, revoke, assign, requeue, escalate, overflow, abandon, expire, complete, ...
  std::string domain;
  std::int64_t seq = 0;  // per-domain decision sequence number
  timestamp_ms at = 0;
  std::string contact_id;
  std::string agent_id;
  std::string queue;
  std::optional<int> priority;
  std::optional<timestamp_ms> deadline;  // offer expiry, SLA deadline
  decision_reason reason;
  std::optional<offer_details> contact;  // on offer and assign
  std::map<std::string, std::string> attributes;
  bool operator==(const assignment&) const = default;
};

enum class outbound_kind { reply, notice, typing, joined, ended };
std::string_view to_string(outbound_kind k);

// omni.outbound.v1: something to deliver to a customer, keyed by conversation.
struct outbound {
  std::string id;
  outbound_kind kind = outbound_kind::reply;
  std::string domain;
  std::string conversation;
  std::string contact_id;
  channel chan = channel::chat;
  std::string provider;
  identity recipient;
  std::string agent_id;
  timestamp_ms at = 0;
  std::string subject;
  std::string text;
  std::string in_reply_to;  // email: Message-ID being answered
  std::vector<std::string> references;
  std::map<std::string, std::string> attributes;
  bool operator==(const outbound&) const = default;
};

}  // namespace omni::core
