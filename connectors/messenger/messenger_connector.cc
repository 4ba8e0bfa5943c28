#include "connectors/messenger/messenger_connector.h"

#include <algorithm>
#include <map>

#include "connectors/meta_hub.h"
#include "connectors/payload.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::messenger {

namespace http = core::http;
using payload::node;

std::string_view to_string(platform p) {
  return p == platform::instagram ? "instagram" : "messenger";
}

namespace {

using meta::append_line;
using meta::count_ignored;
using meta::describe;
using meta::hub_handshake;
using meta::hub_signature;
using meta::number_text;
using meta::tally;

bool is_true(const node& n) { return n.boolean().value_or(false); }

// The file name in an attachment URL's path ("https://cdn/.../123_n.jpg?oh=..." -> "123_n.jpg").
std::string file_name_of(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  auto slash = url.rfind('/');
  std::string_view name = slash == std::string_view::npos ? url : url.substr(slash + 1);
  if (name.find('.') == std::string_view::npos || url.find("://") == std::string_view::npos)
    return "";
  return std::string(name);
}

// Messenger says only image / video / audio / file; the URL's extension says more when present.
std::string content_type_of(std::string_view file_name) {
  auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(file_name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  static constexpr std::pair<std::string_view, std::string_view> known[] = {
      {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"}, {"png", "image/png"},
      {"gif", "image/gif"},       {"webp", "image/webp"}, {"mp4", "video/mp4"},
      {"mov", "video/quicktime"}, {"mp3", "audio/mpeg"},  {"m4a", "audio/mp4"},
      {"aac", "audio/aac"},       {"ogg", "audio/ogg"},   {"wav", "audio/wav"},
      {"pdf", "application/pdf"}, {"txt", "text/plain"},  {"zip", "application/zip"},
  };
  for (const auto& [e, type] : known)
    if (ext == e) return std::string(type);
  return "";
}

void map_attachments(const node& list, core::contact& c, const std::string& prefix) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    node att = list.at(i);
    std::string type = att["type"].text_or("file");
    node p = att["payload"];
    if (type == "location") {  // older clients share a location as an attachment
      node at = p["coordinates"];
      append_line(c.text, "Location: " + number_text(at["lat"]) + ", " + number_text(at["long"]));
      continue;
    }
    if (type == "fallback") {  // a shared link Messenger cannot render
      std::string link = att["title"].text_or("");
      std::string url = att["url"].text_or(p["url"].text_or(""));
      append_line(c.text, link.empty() ? url : (url.empty() ? link : link + " " + url));
      continue;
    }
    if (type == "template") continue;  // structured messages come from businesses, not people
    std::string url = p["url"].text_or("");
    if (url.empty() && !p["sticker_id"].exists() && !p["title"].exists()) continue;
    std::string name = file_name_of(url);
    std::string content_type = content_type_of(name);
    if (name.empty()) name = type;
    c.attachments.push_back({std::move(name), std::move(content_type), -1, std::move(url)});
    if (auto sticker = p["sticker_id"].text()) c.attributes[prefix + "_sticker_id"] = *sticker;
    if (c.text.empty()) append_line(c.text, p["title"].text_or(""));  // reels / posts shared
  }
}

struct entry_context {
  platform from;
  std::string page_id;  // entry[].id: the Facebook page or the Instagram professional account
  std::string time;     // entry[].time
  core::timestamp_ms now;
};

// The kind of a messaging[] event that is neither a message nor a postback (for counting).
std::string event_kind(const node& ev) {
  std::string kind = ev.first_key_except({"sender", "recipient", "timestamp"});
  return kind.empty() ? "empty" : kind;
}

// One messaging[] event. nullopt with `ignored` set: understood, nothing to route.
core::result<std::optional<core::contact>> map_event(const node& ev, const entry_context& ctx,
                                                     std::string& ignored) {
  if (!ev.is_object()) return ev.missing("must be an object");
  node message = ev["message"];
  node postback = ev["postback"];
  if (!message.is_object() && !postback.is_object()) {
    ignored = event_kind(ev);
    return std::optional<core::contact>{};
  }
  if (message.is_object() && is_true(message["is_echo"])) {
    ignored = "echo";  // our own page's message, echoed back
    return std::optional<core::contact>{};
  }
  if (message.is_object() && is_true(message["is_deleted"])) {
    ignored = "deleted";  // Instagram: the customer unsent a message
    return std::optional<core::contact>{};
  }
  auto sender = ev["sender"]["id"].required_text();
  if (!sender) return sender.err();
  if (sender->empty()) return ev["sender"]["id"].missing("must not be empty");

  const std::string prefix(to_string(ctx.from));
  core::contact c;
  c.provider = prefix;
  if (message.is_object()) {
    auto mid = message["mid"].required_text();
    if (!mid) return mid.err();
    if (mid->empty()) return message["mid"].missing("must not be empty");
    c.source_id = *mid;
    c.text = message["text"].text_or("");
    node attachments = message["attachments"];
    if (attachments.exists() && !attachments.is_array())
      return attachments.missing("must be an array");
    map_attachments(attachments, c, prefix);
    if (auto qr = message["quick_reply"]["payload"].text())
      c.attributes[prefix + "_quick_reply"] = *qr;
    if (auto to = message["reply_to"]["mid"].text()) c.attributes[prefix + "_reply_to"] = *to;
    if (auto story = message["reply_to"]["story"]["url"].text())
      c.attributes[prefix + "_story_url"] = *story;
    if (c.text.empty() && c.attachments.empty()) c.text = "(empty message)";
    c.attributes[prefix + "_event"] = "message";
  } else {
    std::string title = postback["title"].text_or("");
    std::string data = postback["payload"].text_or("");
    c.text = title.empty() ? data : title;
    if (!data.empty()) c.attributes[prefix + "_postback_payload"] = data;
    // Postbacks from older clients carry no mid: a stable id from what a re-delivery repeats.
    std::string mid = postback["mid"].text_or("");
    c.source_id = !mid.empty()
                      ? mid
                      : "postback:" + core::contact_id(prefix, ctx.page_id + "\n" + ctx.time +
                                                                   "\n" + *sender + "\n" + data);
    c.attributes[prefix + "_event"] = "postback";
  }
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::messenger;
  c.received_at = ctx.now;
  std::string page = ctx.page_id.empty() ? ev["recipient"]["id"].text_or("") : ctx.page_id;
  c.conversation = prefix + ":" + page + ":" + *sender;
  c.to = page;
  c.customer.identities.push_back({prefix, *sender});
  if (auto ts = ev["timestamp"].text()) c.attributes[prefix + "_timestamp"] = *ts;
  return std::optional<core::contact>{std::move(c)};
}

}  // namespace

std::optional<http::response> provider::handshake(const http::request& req) const {
  return hub_handshake(req, settings_.verify_token);
}

std::optional<http::response> provider::verify(const http::request& req) const {
  return hub_signature(req, settings_.app_secrets);
}

core::result<webhook_mapping> provider::map(const http::request& req,
                                            core::timestamp_ms now) const {
  auto doc = payload::parse(req.body);
  if (!doc) return doc.err();
  node root(*doc);
  if (!root.is_object()) return core::error{"a webhook notification must be a JSON object", ""};
  auto object = root["object"].required_text();
  if (!object) return object.err();
  webhook_mapping out;
  tally ignored;
  const std::string_view expected = settings_.from == platform::instagram ? "instagram" : "page";
  if (*object != expected) {
    ignored["object:" + *object] = 1;
    count_ignored(settings_.name, ignored);
    return webhook_mapping{{}, describe(ignored)};
  }
  node entries = root["entry"];
  if (!entries.is_array())
    return entries.missing(entries.exists() ? "must be an array" : "is required");
  for (std::size_t e = 0; e < entries.size(); ++e) {
    node entry = entries.at(e);
    if (!entry.is_object()) return entry.missing("must be an object");
    node messaging = entry["messaging"];
    if (!messaging.exists()) {
      // standby (another app owns the thread), changes (feed, comments, ...): not ours to route.
      ++ignored[entry["standby"].exists()   ? "standby"
                : entry["changes"].exists() ? "changes"
                                            : "entry without messaging"];
      continue;
    }
    if (!messaging.is_array()) return messaging.missing("must be an array");
    if (messaging.size() == 0) continue;
    auto page_id = entry["id"].required_text();
    if (!page_id) return page_id.err();
    entry_context ctx{settings_.from, *page_id, number_text(entry["time"]), now};
    for (std::size_t m = 0; m < messaging.size(); ++m) {
      std::string why;
      auto mapped = map_event(messaging.at(m), ctx, why);
      if (!mapped) return mapped.err();
      if (*mapped) {
        out.contacts.push_back(std::move(**mapped));
      } else {
        ++ignored[why];
      }
    }
  }
  count_ignored(settings_.name, ignored);
  if (out.contacts.empty()) out.ignored = describe(ignored);
  return out;
}

}  // namespace omni::connectors::messenger
