#pragma once
// Asterisk Manager Interface (AMI) client logic, without sockets
// (https://docs.asterisk.org/Configuration/Interfaces/Asterisk-Manager-Interface-AMI/).
//
// The wire: on connect Asterisk sends one banner line "Asterisk Call Manager/<version>\r\n"; after
// that every message is `Key: Value` lines ended by CRLF, the message by an empty line. Keys may
// repeat (ChanVariable, Variable). We log in (plain Secret, or Action: Challenge + an MD5 Key),
// ask for call (and agent) events only, and map:
//   Newchannel (originating channel: Uniqueid == Linkedid) -> a call starts; CallerIDNum
//                                                          "<unknown>" waits for NewCallerid
//   NewCallerid                                            -> the caller's number
//   DialBegin                                              -> being routed (publish now)
//   DialEnd DialStatus=ANSWER, AgentConnect                -> answered by Dest* extension
//   BlindTransfer, AttendedTransfer                        -> transferred to the target extension
//   Hangup of the originating channel                      -> the call ended
// with Linkedid as the call key. Everything else is counted as ignored.
//
// ami_framer and ami_protocol are pure and single-threaded (the pbx_client strand, a fuzzer).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/telephony/headers.h"
#include "connectors/telephony/pbx_client.h"

namespace omni::connectors::telephony {

using ami_message = header_list;

// Splits the AMI byte stream into the banner and messages. A line without ':' is skipped, a line
// or message over `max_message_bytes` is discarded up to its end; both count as bad frames.
class ami_framer {
 public:
  explicit ami_framer(std::size_t max_message_bytes = 64 * 1024) : max_(max_message_bytes) {}
  void reset();
  void feed(std::string_view bytes, std::vector<ami_message>& out);
  // The first line the server sent, once it did.
  const std::optional<std::string>& banner() const { return banner_; }
  std::uint64_t bad_frames() const { return bad_; }

 private:
  void line(std::string_view l, std::vector<ami_message>& out);

  std::size_t max_;
  std::string partial_;  // the unfinished line
  bool long_line_ = false;
  ami_message current_;
  std::size_t current_bytes_ = 0;
  bool current_bad_ = false;
  bool discarding_ = false;
  std::optional<std::string> banner_;
  std::uint64_t bad_ = 0;
};

struct ami_settings {
  std::string username;
  std::string secret;
  bool md5 = false;                   // Action: Challenge / AuthType: MD5 instead of a plain Secret
  std::string events = "call,agent";  // the Login's Events: class mask
  std::vector<std::string> contexts;  // inbound contexts; empty: every originating channel
  bool ignore_internal = true;        // calls from a mapped agent extension are not contacts
  std::size_t max_message_bytes = 64 * 1024;
};

// "ABC-00000001" style channel name -> the device resource ("PJSIP/101-00000005" -> "101",
// "Local/102@agents-0000001a;1" -> "102").
std::string channel_resource(std::string_view channel);

std::string md5_hex(std::string_view data);

class ami_protocol : public pbx_protocol {
 public:
  ami_protocol(ami_settings s, call_settings calls, std::string connector_name);
  void reset() override;
  feed_result feed(std::string_view bytes, core::timestamp_ms now, call_output& out) override;
  void tick(core::timestamp_ms now, call_output& out) override { tracker_.expire(now, out); }
  const call_tracker& tracker() const override { return tracker_; }

  // Maps one event (after login); false when it carries nothing for us (counted as ignored).
  bool on_event(const ami_message& m, core::timestamp_ms now, call_output& out);
  const ami_framer& framer() const { return framer_; }

 private:
  enum class state { banner, challenge, login, ready };
  void on_message(const ami_message& m, core::timestamp_ms now, call_output& out, feed_result& r);
  std::string login(const std::string& challenge) const;

  ami_settings settings_;
  std::string name_;
  call_tracker tracker_;
  ami_framer framer_;
  state state_ = state::banner;
  std::vector<ami_message> messages_;
};

}  // namespace omni::connectors::telephony
