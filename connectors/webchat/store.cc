#include "connectors/webchat/store.h"

#include <algorithm>

namespace omni::connectors::webchat {

session_store::opened session_store::open(const std::string& visitor, std::uint64_t after_seq,
                                          core::timestamp_ms now) {
  std::lock_guard lock(mutex_);
  opened out;
  auto it = visitors_.find(visitor);
  out.known = it != visitors_.end();
  if (!out.known) {
    make_room();
    it = visitors_.emplace(visitor, visitor_state{}).first;
    // A widget that saw events of an earlier session (this node before a restart) keeps their
    // seqs: new ones continue after them, or the widget would take them for events it shows.
    it->second.next_seq = after_seq + 1;
  }
  auto& v = it->second;
  ++v.sockets;
  v.last_active = now;
  out.chat = v.chat;
  for (const auto& e : v.history)
    if (e.seq > after_seq) out.replay.push_back(e);
  return out;
}

bool session_store::adopt(const std::string& visitor, const std::string& chat) {
  std::lock_guard lock(mutex_);
  auto it = visitors_.find(visitor);
  if (it == visitors_.end()) return false;
  auto& v = it->second;
  if (conversations_.count(chat)) return conversations_[chat] == visitor;
  conversations_[chat] = visitor;
  v.chats.push_back(chat);
  if (v.chat.empty()) v.chat = chat;
  return true;
}

void session_store::disconnected(const std::string& visitor, core::timestamp_ms now) {
  std::lock_guard lock(mutex_);
  if (auto it = visitors_.find(visitor); it != visitors_.end()) {
    it->second.sockets = std::max(0, it->second.sockets - 1);
    it->second.last_active = now;
  }
}

session_store::claim session_store::begin_message(const std::string& visitor,
                                                  const std::string& client_id,
                                                  const std::string& new_chat,
                                                  core::timestamp_ms now) {
  std::lock_guard lock(mutex_);
  claim c;
  auto& v = visitors_[visitor];
  v.last_active = now;
  for (const auto& e : v.history)
    if (e.kind == entry_kind::visitor && e.id == client_id) {
      c.state = claim_state::stored;
      c.seq = e.seq;
      c.chat = e.chat;
      return c;
    }
  if (v.chat.empty()) {
    v.chat = new_chat;
    v.chats.push_back(new_chat);
    conversations_[new_chat] = visitor;
  }
  c.chat = v.chat;
  c.state = v.in_flight.insert(client_id).second ? claim_state::fresh : claim_state::in_flight;
  return c;
}

std::optional<chat_entry> session_store::commit(const std::string& visitor,
                                                const std::string& client_id, std::string text,
                                                core::timestamp_ms at) {
  std::lock_guard lock(mutex_);
  auto it = visitors_.find(visitor);
  if (it == visitors_.end()) return std::nullopt;
  auto& v = it->second;
  v.in_flight.erase(client_id);
  chat_entry e;
  e.kind = entry_kind::visitor;
  e.id = client_id;
  e.chat = v.chat;
  e.text = std::move(text);
  e.at = at;
  return append(v, std::move(e));
}

void session_store::release(const std::string& visitor, const std::string& client_id) {
  std::lock_guard lock(mutex_);
  if (auto it = visitors_.find(visitor); it != visitors_.end())
    it->second.in_flight.erase(client_id);
}

std::optional<session_store::routed> session_store::deliver(const core::outbound& o) {
  std::lock_guard lock(mutex_);
  auto c = conversations_.find(o.conversation);
  if (c == conversations_.end()) return std::nullopt;
  auto it = visitors_.find(c->second);
  if (it == visitors_.end()) return std::nullopt;
  auto& v = it->second;
  routed out{c->second, std::nullopt};
  auto e = entry_of(o);
  if (!e) return out;
  // omni.outbound is read at least once: a record seen before is not shown twice.
  for (const auto& h : v.history)
    if (h.kind != entry_kind::visitor && h.id == e->id) return out;
  if (e->kind == entry_kind::ended && v.chat == o.conversation) v.chat.clear();
  out.entry = append(v, std::move(*e));
  return out;
}

std::optional<chat_entry> session_store::end_chat(const std::string& visitor,
                                                  core::timestamp_ms now) {
  std::lock_guard lock(mutex_);
  auto it = visitors_.find(visitor);
  if (it == visitors_.end() || it->second.chat.empty()) return std::nullopt;
  auto& v = it->second;
  chat_entry e;
  e.kind = entry_kind::ended;
  e.id = "end-" + v.chat;
  e.chat = v.chat;
  e.at = now;
  v.chat.clear();
  v.last_active = now;
  return append(v, std::move(e));
}

std::size_t session_store::expire(core::timestamp_ms now) {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (auto it = visitors_.begin(); it != visitors_.end();) {
    auto next = std::next(it);
    if (it->second.sockets == 0 && now - it->second.last_active > limits_.retention.count()) {
      forget(it);
      ++n;
    }
    it = next;
  }
  return n;
}

std::size_t session_store::visitors() const {
  std::lock_guard lock(mutex_);
  return visitors_.size();
}

chat_entry& session_store::append(visitor_state& v, chat_entry e) {
  e.seq = v.next_seq++;
  v.history.push_back(std::move(e));
  if (v.history.size() > limits_.history)
    v.history.erase(v.history.begin(), v.history.begin() + static_cast<std::ptrdiff_t>(
                                                               v.history.size() - limits_.history));
  return v.history.back();
}

// Under the mutex: keeps the visitor count under max_visitors by forgetting the longest idle
// visitor without a socket.
void session_store::make_room() {
  if (visitors_.size() < limits_.max_visitors) return;
  auto oldest = visitors_.end();
  for (auto it = visitors_.begin(); it != visitors_.end(); ++it)
    if (it->second.sockets == 0 &&
        (oldest == visitors_.end() || it->second.last_active < oldest->second.last_active))
      oldest = it;
  if (oldest != visitors_.end()) forget(oldest);
}

void session_store::forget(std::unordered_map<std::string, visitor_state>::iterator it) {
  for (const auto& chat : it->second.chats) conversations_.erase(chat);
  visitors_.erase(it);
}

}  // namespace omni::connectors::webchat
