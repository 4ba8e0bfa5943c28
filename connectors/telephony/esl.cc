#include "connectors/telephony/esl.h"

#include <algorithm>
#include <charconv>

#include "core/http/message.h"

namespace omni::connectors::telephony {

// ---- framer -----------------------------------------------------------------------------------

void esl_framer::reset() {
  buffer_.clear();
  current_ = {};
  header_bytes_ = body_left_ = 0;
  in_body_ = false;
  error_.clear();
}

bool esl_framer::header_line(std::string_view l) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) return false;
  auto colon = l.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    ++bad_;
    return true;
  }
  current_.headers.fields.emplace_back(std::string(trim(l.substr(0, colon))),
                                       std::string(trim(l.substr(colon + 1))));
  return true;
}

void esl_framer::feed(std::string_view bytes, std::vector<esl_frame>& out) {
  if (!error_.empty()) return;
  buffer_.append(bytes);
  std::size_t pos = 0;
  while (pos < buffer_.size()) {
    if (in_body_) {
      if (buffer_.size() - pos < body_left_) break;
      current_.body = buffer_.substr(pos, body_left_);
      pos += body_left_;
      in_body_ = false;
      out.push_back(std::move(current_));
      current_ = {};
      continue;
    }
    auto nl = buffer_.find('\n', pos);
    if (nl == std::string::npos) {
      if (header_bytes_ + (buffer_.size() - pos) > max_header_) {
        error_ = "a header block longer than " + std::to_string(max_header_) + " bytes";
        ++bad_;
      }
      break;
    }
    std::string_view l(buffer_.data() + pos, nl - pos);
    pos = nl + 1;
    header_bytes_ += l.size() + 1;
    if (header_bytes_ > max_header_) {
      error_ = "a header block longer than " + std::to_string(max_header_) + " bytes";
      ++bad_;
      break;
    }
    if (header_line(l)) continue;
    header_bytes_ = 0;
    if (current_.headers.fields.empty()) continue;  // stray blank line between frames
    body_left_ = 0;
    if (const std::string* cl = current_.headers.get("Content-Length")) {
      auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), body_left_);
      if (ec != std::errc() || end != cl->data() + cl->size() || body_left_ > max_body_) {
        error_ = "Content-Length '" + cl->substr(0, 40) + "' is not a length up to " +
                 std::to_string(max_body_);
        ++bad_;
        break;
      }
    }
    if (body_left_ > 0) {
      in_body_ = true;
    } else {
      out.push_back(std::move(current_));
      current_ = {};
    }
  }
  buffer_.erase(0, pos);
}

header_list parse_event_plain(std::string_view body, std::uint64_t& bad) {
  header_list out;
  while (!body.empty()) {
    auto nl = body.find('\n');
    std::string_view l = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      if (!out.fields.empty()) break;  // the event's own body (e.g. a BACKGROUND_JOB) follows
      continue;
    }
    auto colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      ++bad;
      continue;
    }
    out.fields.emplace_back(std::string(trim(l.substr(0, colon))),
                            core::http::url_decode(trim(l.substr(colon + 1))));
  }
  return out;
}

// ---- protocol ---------------------------------------------------------------------------------

esl_protocol::esl_protocol(esl_settings s, call_settings calls, std::string connector_name)
    : settings_(std::move(s)), name_(std::move(connector_name)), tracker_(std::move(calls)) {}

void esl_protocol::reset() {
  framer_.reset();
  state_ = state::auth;
}

feed_result esl_protocol::feed(std::string_view bytes, core::timestamp_ms now, call_output& out) {
  feed_result r;
  const std::uint64_t bad_before = framer_.bad_frames();
  frames_.clear();
  framer_.feed(bytes, frames_);
  for (const auto& f : frames_) {
    on_frame(f, now, out, r);
    if (!r.fatal.empty()) break;
  }
  if (framer_.bad_frames() != bad_before)
    count("bad_frames", name_, framer_.bad_frames() - bad_before);
  if (r.fatal.empty() && !framer_.error().empty()) r.fatal = "broken framing: " + framer_.error();
  return r;
}

void esl_protocol::on_frame(const esl_frame& f, core::timestamp_ms now, call_output& out,
                            feed_result& r) {
  std::string type = f.headers.value("Content-Type");
  if (type == "auth/request") {
    r.send += "auth " + settings_.password + "\n\n";
    state_ = state::auth;
    return;
  }
  if (type == "command/reply") {
    std::string reply = f.headers.value("Reply-Text");
    bool ok = reply.starts_with("+OK");
    if (state_ == state::auth) {
      if (!ok) {
        r.auth_failed = true;
        r.fatal = "auth failed: " + (reply.empty() ? std::string("no Reply-Text") : reply);
        return;
      }
      r.send += "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n";
      state_ = state::subscribe;
    } else if (state_ == state::subscribe) {
      if (!ok) {
        r.fatal = "event subscription refused: " + reply;
        return;
      }
      state_ = state::ready;
      r.ready = true;
    }
    return;
  }
  if (type == "text/disconnect-notice") {
    r.fatal = "FreeSWITCH sent a disconnect notice";
    return;
  }
  if (type == "text/event-plain") {
    if (state_ != state::ready) return;
    std::uint64_t bad = 0;
    header_list e = parse_event_plain(f.body, bad);
    if (bad) count("bad_frames", name_, bad);
    if (!on_event(e, now, out)) count("events_ignored", name_);
    return;
  }
  count("events_ignored", name_);  // api/response, log/data, text/event-json we did not ask for
}

bool esl_protocol::on_event(const header_list& e, core::timestamp_ms now, call_output& out) {
  std::string name = e.value("Event-Name");
  std::string uuid = e.value("Unique-ID");
  const bool inbound = iequals(e.value("Call-Direction"), "inbound");
  if (name == "CHANNEL_CREATE") {
    if (!inbound) return false;  // an agent leg: found again when it answers
    if (!settings_.contexts.empty() &&
        std::find(settings_.contexts.begin(), settings_.contexts.end(),
                  e.value("Caller-Context")) == settings_.contexts.end())
      return false;
    std::string number = e.value("Caller-Caller-ID-Number");
    if (settings_.ignore_internal && tracker_.is_agent_extension(number)) return false;
    call_start s{
        uuid, number, e.value("Caller-Caller-ID-Name"), e.value("Caller-Destination-Number"),
        true, {}};
    if (auto* c = e.get("Channel-Name")) s.attributes["freeswitch_channel"] = *c;
    if (auto* c = e.get("Caller-Context")) s.attributes["freeswitch_context"] = *c;
    tracker_.started(s, now, out);
    return true;
  }
  if (name == "CHANNEL_ANSWER") {
    if (inbound) {
      if (!tracker_.tracking(uuid)) return false;
      tracker_.routing(uuid, now, out);
      return true;
    }
    for (const char* k :
         {"Other-Leg-Unique-ID", "variable_originating_leg_uuid", "Channel-Call-UUID"}) {
      std::string call = e.value(k);
      if (call.empty() || !tracker_.tracking(call)) continue;
      tracker_.answered(call,
                        {e.value("variable_dialed_user"), e.value("Caller-Callee-ID-Number"),
                         e.value("Caller-Destination-Number")},
                        now, out);
      return true;
    }
    return false;
  }
  if (name == "CHANNEL_HANGUP_COMPLETE") {
    if (!tracker_.tracking(uuid)) return false;  // an agent leg, or a call we did not take
    tracker_.ended(uuid, e.value("Hangup-Cause"), now, out);
    return true;
  }
  return false;
}

}  // namespace omni::connectors::telephony
