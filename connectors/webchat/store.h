#pragma once
// The web chat's visitor sessions: each visitor's current chat, the chat history the widget shows
// (visitor messages once Kafka stored them, agent replies, notices), the client ids of messages in
// flight (so a resend after a reconnect is not published twice) and the conversation -> visitor
// map that routes omni.outbound records to the right visitor.
//
// Kept in memory, bounded: at most `history` entries per visitor, visitors idle (no socket, no
// traffic) for longer than `retention` are forgotten, and at most `max_visitors` are kept (the
// longest idle offline one goes first). A restart forgets every session; the connector then
// recovers a returning visitor's chat and its replies from Kafka through the reply index
// (reply_index.h). See README.md ("Sessions").
//
// Thread-safe (one mutex); owned by the connector. No I/O, no clock: `now` is passed in.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/webchat/protocol.h"
#include "core/events/events.h"

namespace omni::connectors::webchat {

struct store_limits {
  std::size_t history = 200;
  std::chrono::milliseconds retention{std::chrono::hours(24)};
  std::size_t max_visitors = 100'000;
};

class session_store {
 public:
  explicit session_store(store_limits limits) : limits_(limits) {}

  struct opened {
    std::string chat;                // the open chat's conversation key; empty: none open
    std::vector<chat_entry> replay;  // history entries after the widget's last_seq
    bool known = false;              // the visitor had a session here
  };
  // Opens (or creates) the visitor's session; `connected` counts its sockets.
  opened open(const std::string& visitor, std::uint64_t after_seq, core::timestamp_ms now);
  void disconnected(const std::string& visitor, core::timestamp_ms now);
  // After a restart: makes `chat` (recovered from the reply index) the visitor's again, so the
  // replies for it are routed here, and its open chat when none is. False when the visitor has no
  // session or another visitor holds the chat.
  bool adopt(const std::string& visitor, const std::string& chat);

  enum class claim_state { fresh, in_flight, stored };
  struct claim {
    claim_state state = claim_state::fresh;
    std::uint64_t seq = 0;  // stored: the entry's seq
    std::string chat;       // the conversation the message belongs to (opened if none)
  };
  // A visitor message with `client_id`: fresh (now marked in flight: publish it, then commit or
  // release), in flight already, or stored already (ack it again). `new_chat` names the
  // conversation to open when none is.
  claim begin_message(const std::string& visitor, const std::string& client_id,
                      const std::string& new_chat, core::timestamp_ms now);
  // Kafka stored it: the history entry (with its seq) to show; nullopt if the visitor is gone.
  std::optional<chat_entry> commit(const std::string& visitor, const std::string& client_id,
                                   std::string text, core::timestamp_ms at);
  // Kafka did not store it: the client may resend.
  void release(const std::string& visitor, const std::string& client_id);

  struct routed {
    std::string visitor;
    std::optional<chat_entry> entry;  // nullopt: not kept (typing) or a duplicate
  };
  // An outbound record for one of our conversations; nullopt when no visitor here has it.
  std::optional<routed> deliver(const core::outbound& o);

  // The visitor ends the open chat: the `ended` entry; nullopt when none was open.
  std::optional<chat_entry> end_chat(const std::string& visitor, core::timestamp_ms now);

  // Forgets visitors with no socket idle past retention; returns how many.
  std::size_t expire(core::timestamp_ms now);
  std::size_t visitors() const;

 private:
  struct visitor_state {
    std::string chat;
    std::vector<std::string> chats;   // every conversation of this visitor kept in `conversations_`
    std::vector<chat_entry> history;  // oldest first; a vector: no allocation while empty
    std::set<std::string> in_flight;
    std::uint64_t next_seq = 1;
    int sockets = 0;
    core::timestamp_ms last_active = 0;
  };
  chat_entry& append(visitor_state& v, chat_entry e);
  void make_room();
  void forget(std::unordered_map<std::string, visitor_state>::iterator it);

  store_limits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, visitor_state> visitors_;
  std::unordered_map<std::string, std::string> conversations_;  // conversation -> visitor
};

}  // namespace omni::connectors::webchat
