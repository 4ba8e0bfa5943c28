#include "connectors/vk/vk_connector.h"

#include <array>
#include <cctype>

#include "connectors/payload.h"

namespace omni::connectors::vk {

using payload::node;
namespace http = core::http;

namespace {

// Only a body that parses as a JSON object can carry a secret or be a confirmation.
std::optional<payload::document> parse_object(const http::request& req) {
  auto doc = payload::parse(req.body);
  if (!doc || !node(*doc).is_object()) return std::nullopt;
  return std::move(*doc);
}

// client_info.lang_id as VK documents it (0 ru, 1 uk, 2 be, 3 en, 4 es, 5 fi, 6 de, 7 it).
std::string language_of(const node& client_info) {
  static constexpr std::array<const char*, 8> codes{"ru", "uk", "be", "en", "es", "fi", "de", "it"};
  auto id = client_info["lang_id"].integer();
  if (!id || *id < 0 || *id >= static_cast<std::int64_t>(codes.size())) return "";
  return codes[static_cast<std::size_t>(*id)];
}

// VK's own reference to a media object, as messages.send takes it: <type><owner_id>_<id>.
std::string vk_ref(std::string_view type, const node& media) {
  auto owner = media["owner_id"].text();
  auto id = media["id"].text();
  if (!owner || !id) return "";
  std::string ref = std::string(type) + *owner + "_" + *id;
  if (auto key = media["access_key"].text(); key && !key->empty()) ref += "_" + *key;
  return ref;
}

std::string content_type_for_extension(std::string ext) {
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  struct entry {
    const char* ext;
    const char* type;
  };
  static constexpr entry table[] = {
      {"pdf", "application/pdf"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"png", "image/png"},
      {"gif", "image/gif"},
      {"txt", "text/plain"},
      {"zip", "application/zip"},
      {"mp4", "video/mp4"},
      {"ogg", "audio/ogg"},
      {"mp3", "audio/mpeg"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}};
  for (const auto& e : table)
    if (ext == e.ext) return e.type;
  return "application/octet-stream";
}

// The URL of a photo's largest size (VK lists sizes smallest-first, but not always: compare).
std::string largest_photo_url(const node& photo) {
  std::string url;
  std::int64_t best = -1;
  node sizes = photo["sizes"];
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    node s = sizes.at(i);
    std::int64_t area = s["width"].integer().value_or(0) * s["height"].integer().value_or(0);
    if (auto u = s["url"].text(); u && area >= best) {
      best = area;
      url = *u;
    }
  }
  return url;
}

// Each attachments[] entry becomes a descriptor: a fetchable URL in `ref` where VK gives one,
// else VK's <type><owner>_<id> reference.
void add_attachments(const node& msg, core::contact& c) {
  node list = msg["attachments"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    node a = list.at(i);
    auto type = a["type"].text();
    if (!type) continue;
    node m = a[*type];
    core::attachment d;
    if (*type == "photo") {
      d = {"photo.jpg", "image/jpeg", -1, largest_photo_url(m)};
    } else if (*type == "doc") {
      std::string ext = m["ext"].text_or("");
      d = {m["title"].text_or("document"), content_type_for_extension(ext),
           m["size"].integer().value_or(-1), m["url"].text_or("")};
    } else if (*type == "audio_message") {
      d = {"audio_message.ogg", "audio/ogg", -1, m["link_ogg"].text_or("")};
      if (d.ref.empty() && m["link_mp3"].text())
        d = {"audio_message.mp3", "audio/mpeg", -1, *m["link_mp3"].text()};
    } else if (*type == "video") {
      d = {m["title"].text_or("video"), "video/mp4", -1, ""};
    } else if (*type == "audio") {
      std::string title = m["artist"].text_or("");
      if (auto t = m["title"].text()) title += title.empty() ? *t : " - " + *t;
      d = {title.empty() ? "audio" : title, "audio/mpeg", -1, m["url"].text_or("")};
    } else if (*type == "sticker") {
      d = {"sticker.png", "image/png", -1, ""};
      node images = m["images"];
      if (images.size() > 0) d.ref = images.at(images.size() - 1)["url"].text_or("");
      if (d.ref.empty()) d.ref = "sticker" + m["sticker_id"].text_or("");
    } else if (*type == "graffiti") {
      d = {"graffiti.png", "image/png", -1, m["url"].text_or("")};
    } else if (*type == "link") {
      d = {m["title"].text_or("link"), "text/uri-list", -1, m["url"].text_or("")};
    } else {
      // wall, market, poll, gift, ...: a reference the agent desktop can open on vk.com.
      d = {*type, "application/x-vk-" + *type, -1, ""};
    }
    if (d.ref.empty()) d.ref = vk_ref(*type, m);
    c.attachments.push_back(std::move(d));
  }
}

}  // namespace

std::optional<http::response> provider::handshake(const http::request& req) const {
  if (req.verb != http::method::post || req.body.find("confirmation") == std::string::npos)
    return std::nullopt;
  auto doc = parse_object(req);
  if (!doc) return std::nullopt;
  node root(*doc);
  if (root["type"].text_or("") != "confirmation") return std::nullopt;
  // VK may or may not send the secret with the confirmation; when it does, it must be right.
  if (auto secret = root["secret"].text(); secret && !secure_equals(*secret, settings_.secret))
    return forbidden("wrong secret");
  if (root["group_id"].integer() != settings_.group_id)
    return forbidden("confirmation for group_id " + root["group_id"].text_or("(none)") +
                     ", this connector serves " + std::to_string(settings_.group_id));
  return http::response::text(200, settings_.confirmation);
}

std::optional<http::response> provider::verify(const http::request& req) const {
  auto doc = parse_object(req);
  if (!doc)
    return std::nullopt;  // not JSON: map() answers 400 naming the problem, nothing is produced
  node root(*doc);
  auto secret = root["secret"].text();
  if (!secret) return unauthorized("missing secret");
  if (!secure_equals(*secret, settings_.secret)) return forbidden("wrong secret");
  if (auto group = root["group_id"].integer(); group && *group != settings_.group_id)
    return forbidden("group_id " + std::to_string(*group) + " is not this connector's community");
  return std::nullopt;
}

core::result<webhook_mapping> provider::map(const http::request& req,
                                            core::timestamp_ms now) const {
  auto doc = payload::parse(req.body);
  if (!doc) return doc.err();
  node root(*doc);
  if (!root.is_object()) return core::error{"a Callback API event must be a JSON object", ""};
  auto type = root["type"].required_text();
  if (!type) return type.err();
  auto group_id = root["group_id"].required_integer();
  if (!group_id) return group_id.err();
  if (*type != "message_new") return webhook_mapping{{}, "event type '" + *type + "' not routed"};

  node object = root["object"];
  if (!object.is_object()) return object.missing("must be an object");
  // API 5.103+: object = {message, client_info}; older versions put the message in `object`.
  node msg = object["message"].is_object() ? object["message"] : object;
  auto from_id = msg["from_id"].required_text();
  if (!from_id) return from_id.err();
  std::string peer_id = msg["peer_id"].text_or(*from_id);
  std::string group = std::to_string(*group_id);

  core::contact c;
  c.provider = "vk";
  if (auto event_id = root["event_id"].text(); event_id && !event_id->empty()) {
    c.source_id = *event_id;
  } else if (auto id = msg["id"].integer(); id && *id > 0) {
    c.source_id = group + ":" + std::to_string(*id);
  } else if (auto cmid = msg["conversation_message_id"].integer()) {
    // Messages in community chats have id 0; the conversation-local id is unique per peer.
    c.source_id = group + ":" + peer_id + ":c" + std::to_string(*cmid);
  } else {
    return msg["id"].missing("is required (no event_id, id or conversation_message_id)");
  }
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::messenger;
  c.received_at = now;
  c.conversation = "vk:" + group + ":" + peer_id;
  c.to = settings_.community.empty() ? "club" + group : settings_.community;
  c.customer.identities.push_back({"vk", *from_id});
  c.text = msg["text"].text_or("");
  c.language = language_of(object["client_info"]);
  if (node geo = msg["geo"]["coordinates"]; geo.is_object() && c.text.empty()) {
    auto lat = geo["latitude"].number_text(), lon = geo["longitude"].number_text();
    if (lat && lon) c.text = "Location: " + *lat + ", " + *lon;
  }
  add_attachments(msg, c);
  c.attributes["vk_event"] = *type;
  if (auto id = msg["id"].text()) c.attributes["vk_message_id"] = *id;
  if (auto cmid = msg["conversation_message_id"].text())
    c.attributes["vk_conversation_message_id"] = *cmid;
  if (auto p = msg["payload"].text())
    c.attributes["vk_payload"] = *p;  // a keyboard button's payload
  if (auto v = root["v"].text()) c.attributes["vk_api_version"] = *v;
  return webhook_mapping::of(std::move(c));
}

}  // namespace omni::connectors::vk
