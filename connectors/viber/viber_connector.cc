#include "connectors/viber/viber_connector.h"

#include <cctype>

#include "connectors/payload.h"
#include "core/identity/phone.h"

namespace omni::connectors::viber {

using payload::node;
namespace http = core::http;

std::optional<http::response> provider::verify(const http::request& req) const {
  auto signature = req.header("X-Viber-Content-Signature");
  if (!signature || signature->empty()) return unauthorized("missing X-Viber-Content-Signature");
  std::string hex(*signature);
  for (auto& ch : hex) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!secure_equals(hmac_sha256_hex(settings_.auth_token, req.body), hex))
    return forbidden("wrong X-Viber-Content-Signature");
  return std::nullopt;
}

namespace {

std::string number_text(const node& n) { return n.number_text().value_or("?"); }

std::string content_type_for(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : std::string(file_name.substr(dot + 1));
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  struct entry {
    const char* ext;
    const char* type;
  };
  static constexpr entry table[] = {{"pdf", "application/pdf"}, {"jpg", "image/jpeg"},
                                    {"jpeg", "image/jpeg"},     {"png", "image/png"},
                                    {"gif", "image/gif"},       {"txt", "text/plain"},
                                    {"zip", "application/zip"}, {"mp4", "video/mp4"},
                                    {"mp3", "audio/mpeg"},      {"ogg", "audio/ogg"}};
  for (const auto& e : table)
    if (ext == e.ext) return e.type;
  return "application/octet-stream";
}

// Media messages become one attachment descriptor; `ref` is Viber's (expiring) media URL.
void add_media(std::string_view type, const node& m, core::contact& c) {
  std::int64_t size = m["size"].integer().value_or(-1);
  std::string media = m["media"].text_or("");
  if (type == "picture") {
    c.attachments.push_back({m["file_name"].text_or("picture.jpg"), "image/jpeg", size, media});
  } else if (type == "video") {
    c.attachments.push_back({m["file_name"].text_or("video.mp4"), "video/mp4", size, media});
  } else if (type == "file") {
    std::string file_name = m["file_name"].text_or("file");
    c.attachments.push_back({file_name, content_type_for(file_name), size, media});
  } else if (type == "sticker") {
    if (media.empty()) media = "sticker:" + m["sticker_id"].text_or("");
    c.attachments.push_back({"sticker.png", "image/png", -1, media});
  }
}

}  // namespace

core::result<webhook_mapping> provider::map(const http::request& req,
                                            core::timestamp_ms now) const {
  auto doc = payload::parse(req.body);
  if (!doc) return doc.err();
  node root(*doc);
  if (!root.is_object()) return core::error{"a Viber callback must be a JSON object", ""};
  auto event = root["event"].required_text();
  if (!event) return event.err();
  if (*event != "message") return webhook_mapping{{}, "event '" + *event + "' not routed"};

  node sender = root["sender"];
  if (!sender.is_object()) return sender.missing();
  auto sender_id = sender["id"].required_text();
  if (!sender_id) return sender_id.err();
  auto token = root["message_token"].required_text();
  if (!token) return token.err();
  node m = root["message"];
  if (!m.is_object()) return m.missing();
  auto type = m["type"].required_text();
  if (!type) return type.err();

  core::contact c;
  c.provider = "viber";
  c.source_id = *token;
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::messenger;
  c.received_at = now;
  c.conversation = "viber:" + settings_.name + ":" + *sender_id;
  c.to = settings_.bot.empty() ? settings_.name : settings_.bot;
  c.customer.identities.push_back({"viber", *sender_id});
  c.customer.display_name = sender["name"].text_or("");
  c.language = sender["language"].text_or("");
  c.text = m["text"].text_or("");
  if (*type == "contact") {
    node card = m["contact"];
    std::string phone = card["phone_number"].text_or("");
    if (auto p = core::international_e164(phone)) c.customer.identities.push_back({"phone", *p});
    if (!phone.empty()) c.attributes["viber_contact_phone"] = phone;
    if (c.text.empty()) {
      c.text = "Shared contact: " + card["name"].text_or("");
      if (!phone.empty()) c.text += (card["name"].text() ? " " : "") + phone;
    }
  } else if (*type == "location") {
    if (c.text.empty() && m["location"].is_object())
      c.text = "Location: " + number_text(m["location"]["lat"]) + ", " +
               number_text(m["location"]["lon"]);
  } else if (*type == "url") {
    if (c.text.empty()) c.text = m["media"].text_or("");
  } else {
    add_media(*type, m, c);
  }
  c.attributes["viber_message_type"] = *type;
  if (auto country = sender["country"].text()) c.attributes["viber_country"] = *country;
  if (auto t = m["tracking_data"].text(); t && !t->empty())
    c.attributes["viber_tracking_data"] = *t;
  return webhook_mapping::of(std::move(c));
}

}  // namespace omni::connectors::viber
