#pragma once
// FreeSWITCH event socket (ESL, inbound mode) client logic, without sockets
// (https://developer.signalwire.com/freeswitch/FreeSWITCH-Explained/Client-and-Developer-Interfaces/Event-Socket-Library/).
//
// The wire: messages are `Name: value` header lines ended by LF, the header block by an empty
// line; when the headers carry Content-Length, that many body bytes follow. On connect FreeSWITCH
// sends Content-Type: auth/request; we answer `auth <password>`, then
// `event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE`; both are answered by
// Content-Type: command/reply with Reply-Text +OK / -ERR. Events come as Content-Type:
// text/event-plain whose body is again a header block, values URL-encoded. We map:
//   CHANNEL_CREATE, Call-Direction inbound        -> a call starts (key Unique-ID; caller
//                                                    Caller-Caller-ID-Number / -Name, dialled
//                                                    Caller-Destination-Number)
//   CHANNEL_ANSWER of the outbound (agent) leg    -> answered by its destination / dialed user
//                                                    (the call found by Other-Leg-Unique-ID,
//                                                    variable_originating_leg_uuid or
//                                                    Channel-Call-UUID)
//   CHANNEL_ANSWER of the inbound leg             -> being routed (an IVR or queue took it)
//   CHANNEL_HANGUP_COMPLETE of the inbound leg    -> the call ended (Hangup-Cause)
// text/disconnect-notice drops the connection (and we reconnect).
//
// Pure and single-threaded (the pbx_client strand, a fuzzer).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/telephony/headers.h"
#include "connectors/telephony/pbx_client.h"

namespace omni::connectors::telephony {

struct esl_frame {
  header_list headers;
  std::string body;
};

// Splits the ESL byte stream into frames. A header line without ':' is skipped and counted;
// a header block over `max_header_bytes` or a Content-Length that is not a number or is over
// `max_body_bytes` leaves the stream unframeable: error() says why, and nothing more is read.
class esl_framer {
 public:
  explicit esl_framer(std::size_t max_header_bytes = 64 * 1024,
                      std::size_t max_body_bytes = 1 << 20)
      : max_header_(max_header_bytes), max_body_(max_body_bytes) {}
  void reset();
  void feed(std::string_view bytes, std::vector<esl_frame>& out);
  const std::string& error() const { return error_; }
  std::uint64_t bad_frames() const { return bad_; }

 private:
  bool header_line(std::string_view l);  // false: the block ended

  std::size_t max_header_, max_body_;
  std::string buffer_;  // unconsumed bytes
  esl_frame current_;
  std::size_t header_bytes_ = 0;
  std::size_t body_left_ = 0;
  bool in_body_ = false;
  std::string error_;
  std::uint64_t bad_ = 0;
};

// A text/event-plain body: URL-encoded `Name: value` lines. Lines without ':' are skipped and
// counted in `bad`.
header_list parse_event_plain(std::string_view body, std::uint64_t& bad);

struct esl_settings {
  std::string password = "ClueCon";
  std::vector<std::string> contexts;  // inbound Caller-Context values; empty: any
  bool ignore_internal = true;        // calls from a mapped agent extension are not contacts
};

class esl_protocol : public pbx_protocol {
 public:
  esl_protocol(esl_settings s, call_settings calls, std::string connector_name);
  void reset() override;
  feed_result feed(std::string_view bytes, core::timestamp_ms now, call_output& out) override;
  void tick(core::timestamp_ms now, call_output& out) override { tracker_.expire(now, out); }
  const call_tracker& tracker() const override { return tracker_; }

  // Maps one decoded event; false when it carries nothing for us.
  bool on_event(const header_list& e, core::timestamp_ms now, call_output& out);
  const esl_framer& framer() const { return framer_; }

 private:
  enum class state { auth, subscribe, ready };
  void on_frame(const esl_frame& f, core::timestamp_ms now, call_output& out, feed_result& r);

  esl_settings settings_;
  std::string name_;
  call_tracker tracker_;
  esl_framer framer_;
  state state_ = state::auth;
  std::vector<esl_frame> frames_;
};

}  // namespace omni::connectors::telephony
