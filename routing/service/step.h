#pragma once
// One step of a domain's router: the engine inputs applied at one `now`, plus what the router
// keeps beside the engine (the contacts' desk details, follow-up messages, ids seen). A step is
// serialized into the changelog marker (omni.assignments record of type "input" or "tick") so
// that replaying the markers rebuilds the exact state (README.md, "Recovery"). Plain values.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/events/events.h"
#include "core/result.h"
#include "routing/engine/events.h"

namespace omni::routing::service {

// What the desk shows with an offer, kept per active contact (the engine keeps only ids).
struct contact_meta {
  std::string id;
  std::string customer_id;
  std::string display_name;
  std::string channel;
  std::string provider;
  std::string conversation;
  std::string subject;
  std::string snippet;  // first characters of the text
  // The text shown with the offer (cut to an attribute's limit). Not stored in the step: apply()
  // takes it from the contact_arrived input, which carries the routed text already.
  std::string text;
  bool text_cut = false;
  core::identity recipient;
  std::string history;  // JSON array: the customer's last contacts as of this one's arrival
};

// A message in a conversation an agent already holds (or that already waits): shown to the agent,
// not routed anew.
struct follow_up {
  std::string message_id;  // the new contact event's id
  std::string contact;     // the active contact of the conversation
  std::string agent;       // empty while the contact waits
  std::string subject;
  std::string text;
};

struct step {
  engine::timestamp now = 0;
  std::vector<engine::input_event> inputs;
  std::vector<contact_meta> arrivals;
  std::optional<follow_up> message;
  std::vector<std::string> seen;      // contact / agent-event ids this step consumed
  std::vector<std::string> finished;  // contacts whose desk details are no longer needed
};

std::string encode_step(const step& s);
core::result<step> decode_step(std::string_view json);

// The first `max` bytes of `text`, cut at a UTF-8 boundary.
std::string cut_utf8(std::string_view text, std::size_t max);

}  // namespace omni::routing::service
