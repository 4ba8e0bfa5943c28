#pragma once
// Customer identity and contact history, kept durably in SQLite (WAL mode) under node.state_dir,
// so it survives restarts even on the embedded Kafka. SQLite rather than another embedded store:
// it ships in Debian, survives power loss with WAL, is inspectable with the sqlite3 shell by an
// operator, and the access pattern (point lookups by identity and customer, a few rows per
// contact) is exactly what it is good at.
//
// resolve() links identities to one customer: a contact carrying an email and a phone joins the
// two; identities that belonged to different customers merge them, explicitly: the merge is
// logged, recorded in the `merges` table and reported to the caller.
//
// Owned by the router service. Thread-safe (one connection behind a mutex; statements prepared
// once and cached).

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/events/events.h"
#include "core/result.h"

struct sqlite3;

namespace omni::routing::history {

struct contact_record {
  std::string contact_id;
  std::string customer_id;
  std::string domain;
  core::channel chan = core::channel::chat;
  std::string provider;
  std::string queue;
  std::string agent;
  std::string subject;
  core::timestamp_ms arrived_at = 0;
  core::timestamp_ms answered_at = 0;   // 0: not (yet) answered
  core::timestamp_ms completed_at = 0;  // 0: not (yet) completed
  std::string disposition;
  std::optional<int> satisfaction;
  bool operator==(const contact_record&) const = default;
};

struct customer_record {
  std::string id;
  std::string display_name;
  std::string tier;
  std::vector<core::identity> identities;
  core::timestamp_ms created_at = 0;
};

struct resolution {
  std::string customer_id;
  bool created = false;
  std::vector<std::string> merged;  // customers folded into customer_id by this call
  std::string tier;                 // the customer's tier after this call ('' when none)
};

class store {
 public:
  // Opens (creating when missing) the database file and its directory.
  static core::result<std::unique_ptr<store>> open(const std::filesystem::path& file);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // `identities` must already be normalized (identity_normalizer). An empty list resolves to no
  // customer (error). The new customer's id is derived from its first identity, so every node
  // that replays the same contacts derives the same ids.
  core::result<resolution> resolve(const std::vector<core::identity>& identities,
                                   const std::string& display_name, const std::string& tier,
                                   core::timestamp_ms now);

  // Groups every write until it ends into one transaction (one WAL commit instead of one per
  // write): the router holds one around each batch of consumed records, and ends it before it
  // stores their offsets, so a record counted as processed has its history on disk. Holds the
  // store's lock meanwhile (other threads wait); nests.
  class batch {
   public:
    explicit batch(store& s);
    ~batch();
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;

   private:
    store* store_;
  };

  // Idempotent by contact id. A record with answered_at > 0 (the contact was assigned in the
  // step it arrived in) also carries its answer (agent, queue when not empty, answered_at), set
  // on an existing row as well: one statement instead of record_arrival + record_answer.
  core::result<bool> record_arrival(const contact_record& r);
  core::result<bool> record_answer(const std::string& contact_id, const std::string& agent,
                                   const std::string& queue, core::timestamp_ms at);
  core::result<bool> record_completion(const std::string& contact_id, const std::string& agent,
                                       const std::string& disposition,
                                       std::optional<int> satisfaction, core::timestamp_ms at);
  core::result<bool> set_tier(const std::string& customer_id, const std::string& tier);

  std::optional<customer_record> customer(const std::string& id) const;
  std::optional<std::string> find(const core::identity& normalized) const;
  std::optional<contact_record> contact(const std::string& contact_id) const;
  // Newest first.
  std::vector<contact_record> recent(const std::string& customer_id, int limit) const;
  // The agent of the customer's most recently answered contact, and when it was answered.
  std::optional<std::pair<std::string, core::timestamp_ms>> last_agent(
      const std::string& customer_id) const;

  struct impl;

 private:
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace omni::routing::history
