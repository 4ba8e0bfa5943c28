#pragma once
// Internal: the state shared by the copies of one responder. Included by message.cc and
// listener.cc only; not part of the public API.

#include <atomic>

#include "core/http/message.h"

namespace omni::core::http {

namespace detail {

// Shared by every copy of one responder. `done_` makes delivery exactly-once across threads.
class responder_state {
 public:
  explicit responder_state(responder::sink deliver) : deliver_(std::move(deliver)) {}
  responder_state(const responder_state&) = delete;
  responder_state& operator=(const responder_state&) = delete;

  ~responder_state() {
    if (done_.exchange(true)) return;
    try {
      deliver_(response::error(500, "no response"));
    } catch (...) {
      // A destructor must not throw; the connection's handler timeout still answers.
    }
  }

  bool send(response r) {
    if (done_.exchange(true)) return false;
    deliver_(std::move(r));
    return true;
  }

  // Marks the request answered without delivering; returns false if a delivery already happened.
  bool abandon() { return !done_.exchange(true); }
  bool done() const { return done_.load(); }

 private:
  std::atomic<bool> done_{false};
  responder::sink deliver_;
};

}  // namespace detail

// Gives the listener access to a responder's state (to abandon it on a handler timeout).
class responder_access {
 public:
  static std::weak_ptr<detail::responder_state> state(const responder& r) { return r.state_; }
};

}  // namespace omni::core::http
