#include "connectors/telegram/telegram_connector.h"

#include "connectors/payload.h"

namespace omni::connectors::telegram {

using payload::node;

std::optional<core::http::response> provider::verify(const core::http::request& req) const {
  auto token = req.header("X-Telegram-Bot-Api-Secret-Token");
  if (!token) return unauthorized("missing X-Telegram-Bot-Api-Secret-Token");
  if (!secure_equals(*token, settings_.secret_token)) return forbidden("wrong secret token");
  return std::nullopt;
}

namespace {

std::string full_name(const node& user) {
  std::string name = user["first_name"].text_or("");
  if (auto last = user["last_name"].text(); last && !last->empty())
    name += name.empty() ? *last : " " + *last;
  if (name.empty()) name = user["username"].text_or("");
  return name;
}

// Photos, documents, voice, video, audio and stickers become attachment descriptors.
void add_attachments(const node& msg, core::contact& c) {
  if (msg["photo"].is_array() && msg["photo"].size() > 0) {
    node best = msg["photo"].at(msg["photo"].size() - 1);  // largest size is last
    c.attachments.push_back({"photo.jpg", "image/jpeg", best["file_size"].integer().value_or(-1),
                             best["file_id"].text_or("")});
  }
  struct kind {
    const char* field;
    const char* default_name;
    const char* default_type;
  };
  for (const kind& k :
       {kind{"document", "document", "application/octet-stream"},
        kind{"voice", "voice.ogg", "audio/ogg"}, kind{"audio", "audio", "audio/mpeg"},
        kind{"video", "video.mp4", "video/mp4"}, kind{"video_note", "video_note.mp4", "video/mp4"},
        kind{"sticker", "sticker.webp", "image/webp"}}) {
    node f = msg[k.field];
    if (!f.is_object()) continue;
    c.attachments.push_back({f["file_name"].text_or(k.default_name),
                             f["mime_type"].text_or(k.default_type),
                             f["file_size"].integer().value_or(-1), f["file_id"].text_or("")});
  }
}

}  // namespace

core::result<webhook_mapping> provider::map(const core::http::request& req,
                                            core::timestamp_ms now) const {
  auto doc = payload::parse(req.body);
  if (!doc) return doc.err();
  node update(*doc);
  if (!update.is_object()) return core::error{"an Update must be a JSON object", ""};
  auto update_id = update["update_id"].required_integer();
  if (!update_id) return update_id.err();

  node msg, from;
  std::string text, kind;
  if (update["message"].is_object()) {
    kind = "message";
    msg = update["message"];
    from = msg["from"];
  } else if (update["edited_message"].is_object()) {
    kind = "edited_message";
    msg = update["edited_message"];
    from = msg["from"];
  } else if (update["callback_query"].is_object()) {
    kind = "callback_query";
    node cq = update["callback_query"];
    msg = cq["message"];
    from = cq["from"];
    text = cq["data"].text_or("");
  } else {
    return webhook_mapping{{},
                           "update type not routed (no message, edited_message or callback_query)"};
  }
  if (!from.is_object()) return from.missing();
  auto user_id = from["id"].required_text();
  if (!user_id) return user_id.err();
  auto chat_id = msg["chat"]["id"].required_text();
  if (!chat_id) return chat_id.err();

  core::contact c;
  c.provider = "telegram";
  c.source_id = settings_.name + ":" + std::to_string(*update_id);
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::messenger;
  c.received_at = now;
  c.conversation = "telegram:" + settings_.name + ":" + *chat_id;
  c.to = settings_.bot.empty() ? settings_.name : settings_.bot;
  c.customer.identities.push_back({"telegram", *user_id});
  c.customer.display_name = full_name(from);
  c.language = from["language_code"].text_or("");
  if (kind != "callback_query") text = msg["text"].text_or(msg["caption"].text_or(""));
  c.text = std::move(text);
  // A shared contact card: its phone number identifies the customer across channels.
  if (node card = msg["contact"]; card.is_object()) {
    if (auto phone = card["phone_number"].text()) {
      std::string p = *phone;
      if (!p.empty() && p[0] != '+') p = "+" + p;  // Telegram sends digits, sometimes without '+'
      c.customer.identities.push_back({"phone", p});
      if (c.text.empty()) c.text = "Shared contact: " + p;
    }
  }
  if (node loc = msg["location"]; loc.is_object() && c.text.empty()) {
    c.text = "Location: " + loc["latitude"].number_text().value_or("?") + ", " +
             loc["longitude"].number_text().value_or("?");
  }
  add_attachments(msg, c);
  if (auto username = from["username"].text()) c.attributes["telegram_username"] = *username;
  c.attributes["telegram_update"] = kind;
  if (auto mid = msg["message_id"].text()) c.attributes["telegram_message_id"] = *mid;
  return webhook_mapping::of(std::move(c));
}

}  // namespace omni::connectors::telegram
