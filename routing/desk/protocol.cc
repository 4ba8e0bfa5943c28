#include "routing/desk/protocol.h"

#include <nlohmann/json.hpp>

#include "core/events/codec.h"
#include "core/json/parse.h"

namespace omni::routing::desk {
namespace {

using nlohmann::json;

constexpr std::pair<std::string_view, client_type> type_names[] = {
    {"auth", client_type::auth},         {"ping", client_type::ping},
    {"presence", client_type::presence}, {"accept", client_type::accept},
    {"reject", client_type::reject},     {"complete", client_type::complete},
    {"transfer", client_type::transfer}, {"reply", client_type::reply},
    {"logout", client_type::logout},
};

constexpr std::string_view presences[] = {"available", "away", "wrap_up"};

core::error bad_request(std::string message) { return {std::move(message), "bad_request"}; }

// Reads an optional string field; false (and `err` set) when present but not a bounded string.
bool read_string(const json& j, const char* key, std::string& out, std::size_t max,
                 std::optional<core::error>& err) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) {
    err = bad_request(std::string("'") + key + "' must be a string");
    return false;
  }
  out = it->get<std::string>();
  if (out.size() > max) {
    err =
        bad_request(std::string("'") + key + "' is longer than " + std::to_string(max) + " bytes");
    return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(client_type t) {
  for (const auto& [name, value] : type_names)
    if (value == t) return name;
  return "?";
}

core::result<client_message> parse_client_message(std::string_view text) {
  if (!core::valid_utf8(text)) return core::error{"message is not valid UTF-8", "bad_json"};
  auto parsed = core::parse_json(text);
  if (!parsed) return core::error{"message is not valid JSON: " + parsed.err().message, "bad_json"};
  json& j = *parsed;
  if (!j.is_object()) return core::error{"message must be a JSON object", "bad_json"};
  auto t = j.find("type");
  if (t == j.end() || !t->is_string())
    return bad_request(
        "message has no \"type\" (one of auth, ping, presence, accept, reject, "
        "complete, transfer, reply, logout)");
  client_message m;
  bool known = false;
  const std::string type = t->get<std::string>();
  for (const auto& [name, value] : type_names)
    if (name == type) m.type = value, known = true;
  if (!known)
    return core::error{"unknown message type '" + type.substr(0, 64) +
                           "' (protocol v1 knows auth, ping, presence, accept, reject, complete, "
                           "transfer, reply, logout)",
                       "unknown_type"};
  std::optional<core::error> err;
  const auto short_max = core::codec_limits::max_short_bytes;
  if (!read_string(j, "ref", m.ref, 128, err)) return *err;
  if (!read_string(j, "token", m.token, 8192, err)) return *err;
  if (!read_string(j, "presence", m.presence, short_max, err)) return *err;
  if (!read_string(j, "contact_id", m.contact_id, short_max, err)) return *err;
  if (!read_string(j, "reason", m.reason, core::codec_limits::max_subject_bytes, err)) return *err;
  if (!read_string(j, "disposition", m.disposition, short_max, err)) return *err;
  if (!read_string(j, "queue", m.target_queue, short_max, err)) return *err;
  if (!read_string(j, "agent_id", m.target_agent, short_max, err)) return *err;
  if (!read_string(j, "text", m.text, core::codec_limits::max_text_bytes, err)) return *err;
  if (!read_string(j, "subject", m.subject, core::codec_limits::max_subject_bytes, err))
    return *err;
  if (auto v = j.find("v"); v != j.end()) {
    if (!v->is_number_integer()) return bad_request("'v' must be an integer");
    m.version = v->get<int>();
    if (m.version != protocol_version)
      return core::error{"protocol version " + std::to_string(m.version) +
                             " is not supported (this gateway speaks v1)",
                         "unsupported_version"};
  }
  if (auto s = j.find("survey"); s != j.end()) {
    if (!s->is_boolean()) return bad_request("'survey' must be true or false");
    m.survey = s->get<bool>();
  }
  auto need = [&](const std::string& value, const char* key) -> std::optional<core::error> {
    if (value.empty()) return bad_request(type + " needs a non-empty '" + key + "'");
    return std::nullopt;
  };
  switch (m.type) {
    case client_type::auth:
      if (auto e = need(m.token, "token")) return *e;
      break;
    case client_type::presence: {
      if (auto e = need(m.presence, "presence")) return *e;
      bool ok = false;
      for (auto p : presences) ok = ok || p == m.presence;
      if (!ok) return bad_request("presence must be available, away or wrap_up");
      break;
    }
    case client_type::accept:
    case client_type::reject:
    case client_type::complete:
      if (auto e = need(m.contact_id, "contact_id")) return *e;
      break;
    case client_type::transfer:
      if (auto e = need(m.contact_id, "contact_id")) return *e;
      if (m.target_queue.empty() == m.target_agent.empty())
        return bad_request("transfer needs exactly one of 'queue' or 'agent_id'");
      break;
    case client_type::reply:
      if (auto e = need(m.contact_id, "contact_id")) return *e;
      if (auto e = need(m.text, "text")) return *e;
      break;
    case client_type::ping:
    case client_type::logout:
      break;
  }
  return m;
}

std::string error_message(std::string_view code, std::string_view message, std::string_view ref) {
  json j{{"type", "error"}, {"code", code}, {"message", message}};
  if (!ref.empty()) j["ref"] = ref;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ack_message(std::string_view ref, std::string_view of, std::string_view extra_json) {
  json j{{"type", "ack"}, {"of", of}};
  if (!ref.empty()) j["ref"] = ref;
  if (!extra_json.empty()) {
    auto extra = core::parse_json(extra_json);
    if (extra && extra->is_object()) j.update(*extra);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::uint16_t> close_code_for(std::string_view code) {
  if (code == "bad_json" || code == "unknown_type" || code == "bad_request" ||
      code == "unsupported_version")
    return close_code::bad_request;
  if (code == "unauthorized" || code == "token_expired") return close_code::unauthorized;
  if (code == "forbidden") return close_code::forbidden;
  if (code == "auth_timeout") return close_code::timeout;
  return std::nullopt;  // conflict, unavailable: the desk shows it and carries on
}

}  // namespace omni::routing::desk
