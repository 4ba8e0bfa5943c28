#include "connectors/webchat/protocol.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/events/codec.h"
#include "core/json/parse.h"

namespace omni::connectors::webchat {
namespace {

using nlohmann::json;

constexpr std::pair<std::string_view, client_type> type_names[] = {
    {"start", client_type::start},   {"message", client_type::message},
    {"typing", client_type::typing}, {"end", client_type::end},
    {"ping", client_type::ping},
};

constexpr std::string_view identity_kinds[] = {"email", "phone", "external"};

// Reads the fields of one JSON object, remembering the first problem.
class field_reader {
 public:
  explicit field_reader(const json& j, std::string prefix = {})
      : j_(j), prefix_(std::move(prefix)) {}

  void text(const char* key, std::string& out, std::size_t max, bool required = false) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) fail(key, "is required");
      return;
    }
    if (!it->is_string()) return fail(key, "must be a string");
    if (it->get_ref<const std::string&>().size() > max)
      return fail(key, "is longer than " + std::to_string(max) + " bytes");
    out = it->get<std::string>();
    if (required && out.empty()) fail(key, "must not be empty");
  }

  void number(const char* key, std::uint64_t& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    if (!it->is_number_unsigned()) return fail(key, "must be a non-negative integer");
    out = it->get<std::uint64_t>();
  }

  void fail(std::string_view key, std::string_view what) {
    if (!error_)
      error_ =
          core::error{"'" + prefix_ + std::string(key) + "' " + std::string(what), "bad_request"};
  }

  const std::optional<core::error>& error() const { return error_; }
  void take(const std::optional<core::error>& e) {
    if (!error_) error_ = e;
  }

 private:
  const json& j_;
  std::string prefix_;
  std::optional<core::error> error_;
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

core::result<client_message> parse_client_message(std::string_view text,
                                                  const field_limits& limits) {
  if (!core::valid_utf8(text)) return core::error{"message is not valid UTF-8", "bad_json"};
  auto parsed = core::parse_json(text);
  if (!parsed) return core::error{"message is not valid JSON: " + parsed.err().message, "bad_json"};
  json& j = *parsed;
  if (!j.is_object()) return core::error{"message must be a JSON object", "bad_json"};
  auto t = j.find("type");
  if (t == j.end() || !t->is_string())
    return core::error{"message has no \"type\" (start, message, typing, end, ping)",
                       "bad_request"};
  client_message m;
  bool known = false;
  for (const auto& [name, value] : type_names)
    if (*t == name) m.type = value, known = true;
  if (!known)
    return core::error{
        "unknown type '" + t->get<std::string>() + "' (start, message, typing, end, ping)",
        "unknown_type"};
  field_reader r(j);
  switch (m.type) {
    case client_type::start: {
      if (auto v = j.find("v"); v != j.end() && !v->is_null()) {
        if (!v->is_number_integer()) return core::error{"'v' must be an integer", "bad_request"};
        m.version = v->get<int>();
        if (m.version != protocol_version)
          return core::error{"protocol version " + std::to_string(m.version) +
                                 " is not supported (this server speaks " +
                                 std::to_string(protocol_version) + ")",
                             "unsupported_version"};
      }
      r.text("token", m.token, 256);
      r.number("last_seq", m.last_seq);
      r.text("name", m.name, limits.name);
      r.text("page", m.page, limits.page);
      r.text("language", m.language, 35);
      if (auto id = j.find("identity"); id != j.end() && !id->is_null()) {
        if (!id->is_object()) {
          r.fail("identity", "must be an object {kind, value, hash}");
          break;
        }
        field_reader ir(*id, "identity.");
        signed_identity s;
        ir.text("kind", s.kind, 16, true);
        ir.text("value", s.value, limits.identity_value, true);
        ir.text("hash", s.hash, 128, true);
        if (!ir.error() && std::find(std::begin(identity_kinds), std::end(identity_kinds),
                                     s.kind) == std::end(identity_kinds))
          ir.fail("kind", "must be one of email, phone, external");
        r.take(ir.error());
        m.identity = std::move(s);
      }
      break;
    }
    case client_type::message:
      r.text("client_id", m.client_id, limits.client_id, true);
      r.text("text", m.text, limits.text, true);
      break;
    case client_type::typing:
    case client_type::end:
    case client_type::ping:
      break;
  }
  if (r.error()) return *r.error();
  return m;
}

std::string_view to_string(entry_kind k) {
  switch (k) {
    case entry_kind::visitor:
      return "visitor";
    case entry_kind::agent:
      return "agent";
    case entry_kind::notice:
      return "notice";
    case entry_kind::joined:
      return "joined";
    case entry_kind::ended:
      return "ended";
  }
  return "?";
}

std::string event_message(const chat_entry& e) {
  json j = {{"type", "event"},
            {"seq", e.seq},
            {"kind", to_string(e.kind)},
            {"chat", e.chat},
            {"at", core::format_timestamp(e.at)}};
  if (!e.text.empty()) j["text"] = e.text;
  if (e.kind == entry_kind::visitor)
    j["client_id"] = e.id;
  else if (!e.id.empty())
    j["id"] = e.id;  // the outbound id: the widget shows a re-sent reply once
  if (!e.agent.empty()) j["agent"] = e.agent;
  if (!e.agent_name.empty()) j["agent_name"] = e.agent_name;
  if (e.queue_position) j["queue_position"] = *e.queue_position;
  if (e.expected_wait_seconds) j["expected_wait_seconds"] = *e.expected_wait_seconds;
  return dump(j);
}

std::string welcome_message(std::string_view token, std::string_view visitor_id,
                            std::string_view chat, bool resumed, std::int64_t heartbeat_ms) {
  return dump({{"type", "welcome"},
               {"v", protocol_version},
               {"token", token},
               {"visitor", visitor_id},
               {"chat", chat},
               {"resumed", resumed},
               {"heartbeat_interval_ms", heartbeat_ms}});
}

std::string ack_message(std::string_view client_id, std::uint64_t seq) {
  return dump({{"type", "ack"}, {"client_id", client_id}, {"seq", seq}});
}

std::string typing_message(std::string_view agent) {
  return dump({{"type", "typing"}, {"agent", agent}});
}

std::string error_message(std::string_view code, std::string_view message,
                          std::string_view client_id) {
  json j = {{"type", "error"}, {"code", code}, {"message", message}};
  if (!client_id.empty()) j["client_id"] = client_id;
  return dump(j);
}

std::string pong_message() { return R"({"type":"pong"})"; }

std::optional<std::uint16_t> close_code_for(std::string_view error_code) {
  if (error_code == "bad_json" || error_code == "unknown_type" || error_code == "bad_request" ||
      error_code == "unsupported_version")
    return close_code::bad_request;
  if (error_code == "bad_token" || error_code == "bad_identity") return close_code::unauthorized;
  if (error_code == "start_timeout") return close_code::timeout;
  return std::nullopt;  // not_started, unavailable, too_many: the socket stays usable
}

std::optional<chat_entry> entry_of(const core::outbound& o) {
  chat_entry e;
  e.id = o.id;
  e.chat = o.conversation;
  e.text = o.text;
  e.agent = o.agent_id;
  e.at = o.at;
  if (auto n = o.attributes.find("agent_name"); n != o.attributes.end()) e.agent_name = n->second;
  switch (o.kind) {
    case core::outbound_kind::reply:
      e.kind = entry_kind::agent;
      break;
    case core::outbound_kind::notice: {
      e.kind = entry_kind::notice;
      auto number = [&](const char* key) -> std::optional<std::int64_t> {
        auto a = o.attributes.find(key);
        if (a == o.attributes.end()) return std::nullopt;
        std::int64_t v = 0;
        const char* end = a->second.data() + a->second.size();
        auto [p, ec] = std::from_chars(a->second.data(), end, v);
        if (ec != std::errc() || p != end) return std::nullopt;
        return v;
      };
      if (auto p = number("queue_position")) e.queue_position = static_cast<int>(*p);
      e.expected_wait_seconds = number("expected_wait_seconds");
      break;
    }
    case core::outbound_kind::joined:
      e.kind = entry_kind::joined;
      break;
    case core::outbound_kind::ended:
      e.kind = entry_kind::ended;
      break;
    case core::outbound_kind::typing:
      return std::nullopt;
  }
  return e;
}

}  // namespace omni::connectors::webchat
