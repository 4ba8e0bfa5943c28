#pragma once
// The call lifecycle every telephony provider shares (Asterisk AMI, FreeSWITCH ESL, HTTP CTI): a
// provider reads its own wire format and tells the tracker "a call started / the caller id is
// now known / an agent answered / it was transferred / it ended"; the tracker turns that into
// omni.contact.v1 contacts and omni.agent_event.v1 events with ids that are stable per call, so
// an event re-sent after a reconnect gives the same ids (the publisher and the router dedupe).
//
//   started (caller number known)        -> a `voice` contact: customer phone in E.164
//   (libphonenumber, started (caller id still <unknown>)     default region from config),
//   conversation = call key
//      + caller_id / routing / expire    -> the contact, once the number is known or the call is
//                                           being routed (or after caller_id_wait)
//   answered by an extension             -> agent event `accept` (extension mapped to an agent id)
//   transferred to an extension          -> agent event `transfer` (the router re-queues the call
//                                           as "<contact>~<event id>", offered first to the target)
//   transferred out (no agent's extension) -> `complete`, disposition "transferred to <ext>"
//   ended, answered                      -> agent event `complete` (disposition: the hangup cause)
//   ended, never answered                -> an `abandoned` contact pointing at the call's contact
//
// Pure: no sockets, no clock (times are passed in), not thread-safe; one per connector, used on
// that connector's strand (or under its mutex).

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/events/events.h"
#include "core/identity/normalize.h"
#include "core/recent_ids.h"

namespace omni::connectors::telephony {

struct call_settings {
  std::string provider;   // "asterisk", "freeswitch", "cti": contact provider and id namespace
  std::string connector;  // the connector's name: call keys are unique only per PBX
  std::string domain = "default";
  std::string default_region = "RU";               // for national numbers ("8 (912) 345-67-89")
  std::map<std::string, std::string> agents;       // PBX extension / user -> agent id
  bool extension_is_agent = false;                 // unmapped extensions are agent ids as they are
  std::chrono::milliseconds caller_id_wait{1000};  // how long an <unknown> caller id may wait
  std::size_t max_calls = 20000;                   // calls tracked at once (oldest dropped)
};

// What the tracker asks the connector to publish.
struct call_output {
  std::vector<core::contact> contacts;
  std::vector<core::agent_event> agent_events;
  bool empty() const { return contacts.empty() && agent_events.empty(); }
  void clear() {
    contacts.clear();
    agent_events.clear();
  }
};

struct call_start {
  std::string key;            // Linkedid / Unique-ID / callId: the conversation key
  std::string caller_number;  // raw, as the PBX reports it ("<unknown>", "8 (912) ...", ...)
  std::string caller_name;
  std::string dialled;       // the number the customer called (Exten, Destination-Number, to)
  bool caller_final = true;  // false: the PBX may still tell the number (NewCallerid)
  std::map<std::string, std::string> attributes;  // provider details for the offer
};

// Counts of what the tracker did, for metrics and tests.
struct call_counts {
  std::uint64_t routed = 0, abandoned = 0, answered = 0, completed = 0, transferred = 0,
                unmapped_agents = 0, unknown_calls = 0, dropped = 0;
};

class call_tracker {
 public:
  explicit call_tracker(call_settings s);

  void started(const call_start& s, core::timestamp_ms now, call_output& out);
  void caller_id(std::string_view key, std::string_view number, std::string_view name,
                 core::timestamp_ms now, call_output& out);
  // The PBX is routing the call (dialling an agent / queue): publish it now if still pending.
  void routing(std::string_view key, core::timestamp_ms now, call_output& out);
  // `extensions`: who answered, most specific first (caller id number, extension, channel
  // resource); the first that maps to an agent wins.
  void answered(std::string_view key, const std::vector<std::string>& extensions,
                core::timestamp_ms now, call_output& out);
  void transferred(std::string_view key, const std::vector<std::string>& targets,
                   core::timestamp_ms now, call_output& out);
  void ended(std::string_view key, std::string_view cause, core::timestamp_ms now,
             call_output& out);
  // Publishes calls whose caller id waited longer than caller_id_wait.
  void expire(core::timestamp_ms now, call_output& out);

  bool tracking(std::string_view key) const { return calls_.count(std::string(key)) > 0; }
  // True for a number that is one of the mapped agents' extensions (an internal call).
  bool is_agent_extension(std::string_view number) const;
  std::size_t active() const { return calls_.size(); }
  const call_counts& counts() const { return counts_; }
  const call_settings& settings() const { return settings_; }
  // The contact id the call with `key` gets.
  std::string contact_id_of(std::string_view key) const;

 private:
  struct call {
    core::contact contact;  // published once `published`
    std::string current;    // the router's id for the call now (changes on transfer)
    std::string agent;      // who has it, once answered
    int transfers = 0;
    bool published = false;
    bool answered = false;
  };

  void publish(call& c, call_output& out);
  void set_caller(call& c, std::string_view number, std::string_view name);
  std::string agent_for(const std::vector<std::string>& extensions) const;
  core::agent_event event(const call& c, std::string_view key, core::agent_event_type type,
                          std::string_view suffix, core::timestamp_ms now) const;
  void forget(const std::string& key);

  call_settings settings_;
  core::identity_normalizer normalizer_;
  std::unordered_map<std::string, call> calls_;
  std::deque<std::string> order_;  // keys by start, oldest first
  core::recent_ids ended_;         // recently ended keys: late or replayed events
  call_counts counts_;
};

}  // namespace omni::connectors::telephony
