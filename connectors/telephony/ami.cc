#include "connectors/telephony/ami.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace omni::connectors::telephony {

namespace {

constexpr std::string_view banner_prefix = "Asterisk Call Manager/";

}  // namespace

// ---- framer -----------------------------------------------------------------------------------

void ami_framer::reset() {
  partial_.clear();
  long_line_ = false;
  current_ = {};
  current_bytes_ = 0;
  current_bad_ = discarding_ = false;
  banner_.reset();
}

void ami_framer::feed(std::string_view bytes, std::vector<ami_message>& out) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (!long_line_) {
        partial_.append(bytes);
        if (partial_.size() > max_) {  // a line longer than a whole message: drop it
          long_line_ = true;
          partial_.clear();
        }
      }
      return;
    }
    std::string_view piece = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (long_line_) {
      long_line_ = false;
      partial_.clear();
      discarding_ = true;  // the rest of this message is untrustworthy
      current_bad_ = true;
      continue;
    }
    if (partial_.empty()) {
      line(piece, out);
    } else {
      partial_.append(piece);
      std::string l = std::move(partial_);
      partial_.clear();
      line(l, out);
    }
  }
}

void ami_framer::line(std::string_view l, std::vector<ami_message>& out) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (!banner_) {
    banner_ = std::string(l);
    return;
  }
  if (l.empty()) {  // end of message
    if (current_bad_ || discarding_) ++bad_;
    if (!discarding_ && !current_.fields.empty()) out.push_back(std::move(current_));
    current_ = {};
    current_bytes_ = 0;
    current_bad_ = discarding_ = false;
    return;
  }
  if (discarding_) return;
  current_bytes_ += l.size() + 2;
  if (current_bytes_ > max_) {
    discarding_ = true;
    current_ = {};
    return;
  }
  auto colon = l.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    current_bad_ = true;  // kept: the rest of the message may still be good
    return;
  }
  current_.fields.emplace_back(std::string(trim(l.substr(0, colon))),
                               std::string(trim(l.substr(colon + 1))));
}

// ---- helpers ----------------------------------------------------------------------------------

std::string channel_resource(std::string_view channel) {
  auto slash = channel.find('/');
  if (slash != std::string_view::npos) channel.remove_prefix(slash + 1);
  auto at = channel.find_first_of("@;");
  if (at != std::string_view::npos) return std::string(channel.substr(0, at));
  auto dash = channel.rfind('-');
  if (dash != std::string_view::npos && dash > 0) channel = channel.substr(0, dash);
  return std::string(channel);
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

// ---- protocol ---------------------------------------------------------------------------------

ami_protocol::ami_protocol(ami_settings s, call_settings calls, std::string connector_name)
    : settings_(std::move(s)),
      name_(std::move(connector_name)),
      tracker_(std::move(calls)),
      framer_(settings_.max_message_bytes) {}

void ami_protocol::reset() {
  framer_.reset();
  state_ = state::banner;
}

std::string ami_protocol::login(const std::string& challenge) const {
  std::string m =
      "Action: Login\r\nActionID: omni-login\r\nUsername: " + settings_.username + "\r\n";
  if (settings_.md5)
    m += "AuthType: MD5\r\nKey: " + md5_hex(challenge + settings_.secret) + "\r\n";
  else
    m += "Secret: " + settings_.secret + "\r\n";
  m += "Events: " + settings_.events + "\r\n\r\n";
  return m;
}

feed_result ami_protocol::feed(std::string_view bytes, core::timestamp_ms now, call_output& out) {
  feed_result r;
  const bool had_banner = framer_.banner().has_value();
  const std::uint64_t bad_before = framer_.bad_frames();
  messages_.clear();
  framer_.feed(bytes, messages_);
  if (framer_.bad_frames() != bad_before)
    count("bad_frames", name_, framer_.bad_frames() - bad_before);
  if (!had_banner && framer_.banner()) {
    if (!framer_.banner()->starts_with(banner_prefix)) {
      r.fatal =
          "not an Asterisk manager: it greeted with '" + framer_.banner()->substr(0, 80) + "'";
      return r;
    }
    if (settings_.md5) {
      r.send = "Action: Challenge\r\nActionID: omni-challenge\r\nAuthType: MD5\r\n\r\n";
      state_ = state::challenge;
    } else {
      r.send = login("");
      state_ = state::login;
    }
  }
  for (const auto& m : messages_) {
    on_message(m, now, out, r);
    if (!r.fatal.empty()) break;
  }
  return r;
}

void ami_protocol::on_message(const ami_message& m, core::timestamp_ms now, call_output& out,
                              feed_result& r) {
  const std::string* response = m.get("Response");
  switch (state_) {
    case state::banner:
      return;
    case state::challenge:
      if (!response) return;
      if (iequals(*response, "Success") && m.get("Challenge")) {
        r.send += login(m.value("Challenge"));
        state_ = state::login;
      } else {
        r.fatal = "MD5 challenge refused: " + m.value("Message");
      }
      return;
    case state::login:
      if (!response) return;  // an event that raced the login answer
      if (iequals(*response, "Success")) {
        state_ = state::ready;
        r.ready = true;
      } else {
        r.auth_failed = true;
        r.fatal = "login failed: " + (m.get("Message") ? m.value("Message") : *response);
      }
      return;
    case state::ready:
      if (m.get("Event") && !on_event(m, now, out)) count("events_ignored", name_);
      return;
  }
}

bool ami_protocol::on_event(const ami_message& m, core::timestamp_ms now, call_output& out) {
  const std::string* event = m.get("Event");
  if (!event) return false;
  const std::string& name = *event;
  std::string uniqueid = m.value("Uniqueid");
  std::string key = m.value("Linkedid");
  if (key.empty()) key = uniqueid;
  const bool originating = !uniqueid.empty() && uniqueid == key;

  if (iequals(name, "Newchannel")) {
    if (!originating) return false;  // another leg of a call we know (or not ours)
    if (!settings_.contexts.empty() &&
        std::find(settings_.contexts.begin(), settings_.contexts.end(), m.value("Context")) ==
            settings_.contexts.end())
      return false;
    std::string number = m.value("CallerIDNum");
    if (settings_.ignore_internal && tracker_.is_agent_extension(number)) return false;
    call_start s{key, number, m.value("CallerIDName"), m.value("Exten"), false, {}};
    s.attributes["asterisk_channel"] = m.value("Channel");
    if (auto* c = m.get("Context")) s.attributes["asterisk_context"] = *c;
    tracker_.started(s, now, out);
    return true;
  }
  if (iequals(name, "BlindTransfer") || iequals(name, "AttendedTransfer")) {
    if (auto* result = m.get("Result"); result && !iequals(*result, "Success")) return false;
    std::string call;
    for (const char* k : {"TransfereeLinkedid", "OrigTransfererLinkedid", "TransfererLinkedid"})
      if (call.empty()) call = m.value(k);
    if (!tracker_.tracking(call)) return false;
    std::vector<std::string> targets;
    if (iequals(name, "BlindTransfer"))
      targets = {m.value("Extension")};
    else
      targets = {m.value("TransferTargetCallerIDNum"),
                 channel_resource(m.value("TransferTargetChannel"))};
    tracker_.transferred(call, targets, now, out);
    return true;
  }
  if (!tracker_.tracking(key)) return false;
  if (iequals(name, "NewCallerid")) {
    if (!originating) return false;
    tracker_.caller_id(key, m.value("CallerIDNum"), m.value("CallerIDName"), now, out);
    return true;
  }
  if (iequals(name, "DialBegin")) {
    tracker_.routing(key, now, out);
    return true;
  }
  if (iequals(name, "DialEnd")) {
    if (!iequals(m.value("DialStatus"), "ANSWER")) return false;
    tracker_.answered(key,
                      {m.value("DestCallerIDNum"), m.value("DestExten"),
                       channel_resource(m.value("DestChannel"))},
                      now, out);
    return true;
  }
  if (iequals(name, "AgentConnect")) {
    tracker_.answered(key,
                      {m.value("DestCallerIDNum"), channel_resource(m.value("Interface")),
                       m.value("MemberName"), channel_resource(m.value("DestChannel"))},
                      now, out);
    return true;
  }
  if (iequals(name, "Hangup")) {
    if (!originating) return false;  // an agent leg: the caller may still be on the line
    std::string cause = m.value("Cause-txt");
    if (cause.empty()) cause = m.value("Cause");
    tracker_.ended(key, cause, now, out);
    return true;
  }
  return false;
}

}  // namespace omni::connectors::telephony
