#pragma once
// The gateway's read model: what it knows about contacts, agents and queue statistics, built only
// from omni.assignments (the router's decisions) and omni.agent-events (what agents did). The
// gateway holds no routing state of its own: this is a cache that any gateway node rebuilds by
// reading the two topics, and it answers "may this agent act on this contact?", "what should this
// agent's desk show?" and the REST queries.
//
// Thread-safe: every member function takes the internal mutex. apply() returns the messages to
// push to agents' sockets; the caller delivers them (no I/O here).

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/events/events.h"
#include "core/recent_ids.h"
#include "core/result.h"

namespace omni::routing::desk {

// A message for the desk sockets of one agent, or (agent empty) of every agent of `domain`.
struct push {
  std::string domain;
  std::string agent;
  std::string json;
};

// What acting on a contact needs: where a reply goes.
struct contact_route {
  std::string contact_id;
  std::string domain;
  std::string conversation;
  std::string channel;
  std::string provider;
  core::identity recipient;
  std::string subject;
};

enum class desk_action { accept, reject, work };  // work: reply, complete, transfer

class read_model {
 public:
  explicit read_model(std::size_t contacts_kept = 20000, std::size_t dedupe_window = 200000)
      : contacts_kept_(contacts_kept), seen_(dedupe_window) {}

  // Applies one router decision (deduplicated by id). Types "input" and "tick" are ignored.
  std::vector<push> apply(const core::assignment& a);
  // Applies one agent event (deduplicated by id): presence, login/logout, accept, complete.
  std::vector<push> apply(const core::agent_event& e);

  // Whether `agent` may do `action` on `contact`. Errors: field "forbidden" (never offered or
  // assigned to this agent) or "conflict" (it was, but the offer or assignment is over).
  core::result<contact_route> authorize(const std::string& agent, const std::string& contact,
                                        desk_action action) const;
  // Records an agent's reply in the conversation (shown on reconnect and in REST).
  void add_reply(const std::string& contact, const std::string& agent, const std::string& text,
                 core::timestamp_ms at);

  // The desk's resync after (re)connecting: open offers and assigned contacts of `agent`, each as
  // an "offer" or "assigned" message, plus the domain's latest statistics (if any).
  std::vector<std::string> resync(const std::string& agent, const std::string& domain) const;

  // REST views (JSON documents); nullopt when unknown.
  nlohmann::json queues(const std::string& domain) const;  // domain "": every domain
  std::optional<nlohmann::json> queue(const std::string& domain, const std::string& name) const;
  nlohmann::json agents(const std::string& domain,
                        const std::map<std::string, std::size_t>& connections) const;
  std::optional<nlohmann::json> agent(const std::string& id, std::size_t connections) const;
  std::optional<nlohmann::json> customer(const std::string& id) const;
  std::optional<nlohmann::json> contact(const std::string& id) const;
  // Whether `agent` was ever offered or assigned `contact` / a contact of `customer`.
  bool agent_knows_contact(const std::string& agent, const std::string& contact) const;
  bool agent_knows_customer(const std::string& agent, const std::string& customer) const;

  std::size_t active_contacts() const;

  struct message_entry {
    std::string id;
    std::string from;  // customer, agent
    std::string agent;
    std::string subject;
    std::string text;
    core::timestamp_ms at = 0;
  };
  struct decision_entry {
    std::string id, type, agent, queue;
    std::int64_t seq = 0;
    core::timestamp_ms at = 0;
    std::optional<core::timestamp_ms> deadline;
    std::optional<int> priority;
    core::decision_reason reason;
  };
  struct contact_view {
    std::string id, domain, customer_id, display_name, channel, provider, conversation, subject;
    core::identity recipient;
    std::string history = "[]";
    std::string queue;
    std::string state = "waiting";  // waiting, offered, assigned, completed, abandoned, expired
    std::string offered_to, offer_id, assigned_to, accepted_by;
    std::optional<core::timestamp_ms> offer_deadline;
    std::optional<int> priority;
    core::decision_reason offer_reason;
    std::set<std::string> agents;  // everyone it was offered or assigned to
    std::vector<decision_entry> decisions;
    std::vector<message_entry> messages;
    bool finished = false;
  };
  struct agent_view {
    std::string id, domain, display_name, presence = "offline";
    bool logged_in = false;
    core::timestamp_ms since = 0;
  };

 private:
  bool seen(const std::string& id);
  contact_view& contact_for(const core::assignment& a);
  void finish(contact_view& c, const std::string& state);
  std::string offer_message(const contact_view& c, std::string_view type) const;
  nlohmann::json contact_json(const contact_view& c, bool full) const;
  void trim_finished();
  void forget_customer_contact(const std::string& customer, const std::string& contact);

  mutable std::mutex mutex_;
  std::size_t contacts_kept_;
  std::map<std::string, contact_view> contacts_;
  std::deque<std::string> finished_order_;
  std::map<std::string, agent_view> agents_;
  std::map<std::string, nlohmann::json> stats_;  // domain -> {"at","queues","agents"}
  std::map<std::string, std::pair<std::string, std::vector<std::string>>>
      customers_;          // id -> history, contacts (kept while one of its contacts is)
  core::recent_ids seen_;  // record and agent-event ids (gateway.dedupe_window)
};

// Finds the first of `names` in `attrs`.
std::string attribute(const std::map<std::string, std::string>& attrs,
                      std::initializer_list<std::string_view> names);

// The offer details of a record written before omni.assignment.v1 had `contact`: the same values,
// as the string attributes that release's router wrote.
core::offer_details offer_details_of(const std::map<std::string, std::string>& attrs);

}  // namespace omni::routing::desk
