#include "connectors/whatsapp/whatsapp_connector.h"

#include <algorithm>
#include <map>

#include "connectors/meta_hub.h"
#include "connectors/payload.h"
#include "core/identity/phone.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::whatsapp {

namespace http = core::http;
using payload::node;

namespace {

using meta::append_line;
using meta::count_ignored;
using meta::describe;
using meta::hub_handshake;
using meta::hub_signature;
using meta::number_text;
using meta::tally;

std::string extension_for(std::string_view mime) {
  mime = mime.substr(0, mime.find(';'));
  static constexpr std::pair<std::string_view, std::string_view> known[] = {
      {"image/jpeg", ".jpg"}, {"image/png", ".png"},       {"image/webp", ".webp"},
      {"audio/ogg", ".ogg"},  {"audio/mpeg", ".mp3"},      {"audio/mp4", ".m4a"},
      {"audio/aac", ".aac"},  {"audio/amr", ".amr"},       {"video/mp4", ".mp4"},
      {"video/3gpp", ".3gp"}, {"application/pdf", ".pdf"}, {"text/plain", ".txt"},
  };
  for (const auto& [type, ext] : known)
    if (mime == type) return std::string(ext);
  return "";
}

// image / audio / video / document / sticker (and future media types): media id in `ref`.
void add_media(const node& media, const std::string& type, core::contact& c) {
  std::string mime = media["mime_type"].text_or("");
  std::string name = media["filename"].text_or("");
  if (name.empty()) {
    bool voice = media["voice"].boolean().value_or(false);
    name = (voice ? std::string("voice") : type) + extension_for(mime);
  }
  c.attachments.push_back({std::move(name), mime.empty() ? "application/octet-stream" : mime, -1,
                           media["id"].text_or("")});
  append_line(c.text, media["caption"].text_or(""));
}

void map_location(const node& loc, core::contact& c) {
  std::string coords = number_text(loc["latitude"]) + ", " + number_text(loc["longitude"]);
  std::string place = loc["name"].text_or("");
  if (auto address = loc["address"].text(); address && !address->empty())
    place += place.empty() ? *address : ", " + *address;
  append_line(c.text, "Location: " + (place.empty() ? coords : place + " (" + coords + ")"));
  if (auto url = loc["url"].text()) c.attributes["whatsapp_location_url"] = *url;
}

void map_shared_contacts(const node& cards, core::contact& c) {
  for (std::size_t i = 0; i < cards.size(); ++i) {
    node card = cards.at(i);
    std::string line = card["name"]["formatted_name"].text_or("");
    node phones = card["phones"];
    for (std::size_t p = 0; p < phones.size(); ++p)
      if (auto phone = phones.at(p)["phone"].text()) line += line.empty() ? *phone : ", " + *phone;
    node emails = card["emails"];
    for (std::size_t e = 0; e < emails.size(); ++e)
      if (auto email = emails.at(e)["email"].text()) line += line.empty() ? *email : ", " + *email;
    append_line(c.text, "Shared contact: " + line);
  }
}

void map_interactive(const node& in, core::contact& c) {
  std::string kind = in["type"].text_or("");
  c.attributes["whatsapp_interactive"] = kind;
  if (kind == "button_reply" || kind == "list_reply") {
    node reply = in[kind];
    append_line(c.text, reply["title"].text_or(""));
    if (auto id = reply["id"].text()) c.attributes["whatsapp_reply_id"] = *id;
  } else if (kind == "nfm_reply") {  // a WhatsApp Flow completed
    node reply = in["nfm_reply"];
    append_line(c.text, reply["body"].text_or(""));
    if (auto r = reply["response_json"].text()) c.attributes["whatsapp_flow_response"] = *r;
  }
  if (c.text.empty()) c.text = "(interactive reply: " + (kind.empty() ? "unknown" : kind) + ")";
}

void map_order(const node& order, core::contact& c) {
  append_line(c.text, order["text"].text_or(""));
  std::string items;
  node products = order["product_items"];
  for (std::size_t i = 0; i < products.size(); ++i) {
    node p = products.at(i);
    std::string item = number_text(p["quantity"]) + " x " + p["product_retailer_id"].text_or("?");
    std::string price = number_text(p["item_price"]);
    if (!price.empty()) item += " @ " + price + " " + p["currency"].text_or("");
    items += (items.empty() ? "" : "; ") + item;
  }
  std::string catalog = order["catalog_id"].text_or("");
  append_line(c.text, "Order" + (catalog.empty() ? "" : " from catalog " + catalog) + ": " +
                          (items.empty() ? "(no items)" : items));
  if (!catalog.empty()) c.attributes["whatsapp_catalog_id"] = catalog;
}

void map_unsupported(const node& msg, core::contact& c) {
  std::string what = msg["unsupported"]["type"].text_or("");
  node err = msg["errors"].at(0);
  std::string detail = err["error_data"]["details"].text_or(err["title"].text_or(""));
  c.text = "(message type not supported by WhatsApp" + (what.empty() ? "" : ": " + what) + ")";
  if (!detail.empty()) c.attributes["whatsapp_error"] = detail;
  if (auto code = err["code"].text()) c.attributes["whatsapp_error_code"] = *code;
}

// The body of one message by its type. False: a type that carries no customer contact.
bool map_body(const node& msg, const std::string& type, core::contact& c) {
  if (type == "text") {
    c.text = msg["text"]["body"].text_or("");
  } else if (type == "image" || type == "audio" || type == "video" || type == "document" ||
             type == "sticker") {
    add_media(msg[type], type, c);
  } else if (type == "location") {
    map_location(msg["location"], c);
  } else if (type == "contacts") {
    map_shared_contacts(msg["contacts"], c);
  } else if (type == "interactive") {
    map_interactive(msg["interactive"], c);
  } else if (type == "button") {  // a quick-reply button of a template message
    c.text = msg["button"]["text"].text_or("");
    if (auto p = msg["button"]["payload"].text()) c.attributes["whatsapp_button_payload"] = *p;
  } else if (type == "reaction") {
    std::string emoji = msg["reaction"]["emoji"].text_or("");
    c.text = emoji.empty() ? "(reaction removed)" : emoji;
    if (auto to = msg["reaction"]["message_id"].text()) c.attributes["whatsapp_reaction_to"] = *to;
  } else if (type == "order") {
    map_order(msg["order"], c);
  } else if (type == "unsupported" || type == "unknown") {
    map_unsupported(msg, c);
  } else if (type == "system" || type == "request_welcome") {
    return false;  // number changes and "chat opened" signals: nothing a customer wrote
  } else if (node body = msg[type]; body.is_object() && body["id"].text()) {
    add_media(body, type, c);  // a media type newer than this code
  } else {
    c.text = msg[type]["body"].text_or(msg[type]["text"].text_or(""));
    if (c.text.empty()) c.text = "(" + type + " message)";
  }
  return true;
}

bool is_e164_digits(const std::string& s) {
  return !s.empty() && s.size() <= 15 &&
         std::all_of(s.begin(), s.end(), [](unsigned char ch) { return ch >= '0' && ch <= '9'; });
}

struct message_context {
  std::string business_account;  // entry[].id
  std::string phone_number_id;   // value.metadata.phone_number_id
  std::string to;                // value.metadata.display_phone_number
  node contacts;                 // value.contacts
  core::timestamp_ms now;
};

// One messages[] item. nullopt: understood, nothing to route (counted by the caller).
core::result<std::optional<core::contact>> map_message(const node& msg,
                                                       const message_context& ctx) {
  if (!msg.is_object()) return msg.missing("must be an object");
  auto id = msg["id"].required_text();
  if (!id) return id.err();
  if (id->empty()) return msg["id"].missing("must not be empty");
  auto type = msg["type"].required_text();
  if (!type) return type.err();
  if (msg["from"].exists() && !msg["from"].text()) return msg["from"].required_text().err();

  // The sender: phone-based wa_id and/or the business-scoped user id (BSUID), matched against
  // value.contacts[] for the profile.
  std::string from = msg["from"].text_or("");
  std::string bsuid = msg["from_user_id"].text_or("");
  node profile;
  for (std::size_t i = 0; i < ctx.contacts.size(); ++i) {
    node k = ctx.contacts.at(i);
    if ((!from.empty() && k["wa_id"].text() == from) ||
        (!bsuid.empty() && k["user_id"].text() == bsuid)) {
      profile = k;
      break;
    }
  }
  if (!profile.exists() && from.empty() && bsuid.empty() && ctx.contacts.size() == 1)
    profile = ctx.contacts.at(0);
  std::string wa_id = profile["wa_id"].text_or(from);
  if (bsuid.empty()) bsuid = profile["user_id"].text_or("");
  if (wa_id.empty() && bsuid.empty()) return msg["from"].missing("is required (or from_user_id)");

  core::contact c;
  if (!map_body(msg, *type, c)) return std::optional<core::contact>{};
  c.provider = "whatsapp";
  c.source_id = *id;
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::messenger;
  c.received_at = ctx.now;
  c.conversation = "whatsapp:" + ctx.phone_number_id + ":" + (wa_id.empty() ? bsuid : wa_id);
  // display_phone_number is the business number's digits ("16505551111"); `to` is E.164 like
  // every other phone-number `to` (Twilio's). A value that is not a number stays as it came.
  c.to = core::international_e164(ctx.to).value_or(ctx.to);
  if (!wa_id.empty()) {
    c.customer.identities.push_back({"whatsapp", wa_id});
    if (is_e164_digits(wa_id)) c.customer.identities.push_back({"phone", "+" + wa_id});
  }
  if (!bsuid.empty()) c.customer.identities.push_back({"whatsapp_bsuid", bsuid});
  c.customer.display_name = profile["profile"]["name"].text_or("");
  if (auto u = profile["profile"]["username"].text()) c.attributes["whatsapp_username"] = *u;
  if (auto parent =
          msg["from_parent_user_id"].text().value_or(profile["parent_user_id"].text_or(""));
      !parent.empty())
    c.attributes["whatsapp_parent_bsuid"] = parent;

  c.attributes["whatsapp_type"] = *type;
  c.attributes["whatsapp_phone_number_id"] = ctx.phone_number_id;
  if (!ctx.business_account.empty())
    c.attributes["whatsapp_business_account"] = ctx.business_account;
  if (auto ts = msg["timestamp"].text()) c.attributes["whatsapp_timestamp"] = *ts;
  if (node context = msg["context"]; context.is_object()) {
    if (auto reply_to = context["id"].text()) c.attributes["whatsapp_reply_to"] = *reply_to;
    if (context["forwarded"].boolean().value_or(false)) c.attributes["whatsapp_forwarded"] = "true";
    if (auto product = context["referred_product"]["product_retailer_id"].text())
      c.attributes["whatsapp_referred_product"] = *product;
  }
  if (node referral = msg["referral"]; referral.is_object()) {  // click-to-WhatsApp ads
    if (auto url = referral["source_url"].text()) c.attributes["whatsapp_referral_url"] = *url;
    if (auto h = referral["headline"].text()) c.attributes["whatsapp_referral_headline"] = *h;
  }
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
  if (*object != "whatsapp_business_account") {
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
    node changes = entry["changes"];
    if (changes.exists() && !changes.is_array()) return changes.missing("must be an array");
    for (std::size_t ch = 0; ch < changes.size(); ++ch) {
      node change = changes.at(ch);
      if (!change.is_object()) return change.missing("must be an object");
      auto field = change["field"].required_text();
      if (!field) return field.err();
      if (*field != "messages") {
        ++ignored["field:" + *field];
        continue;
      }
      node value = change["value"];
      if (!value.is_object())
        return value.missing(value.exists() ? "must be an object" : "is required");
      node statuses = value["statuses"];
      if (statuses.size() > 0) ignored["status"] += static_cast<int>(statuses.size());
      if (node errors = value["errors"]; errors.size() > 0)
        ignored["error"] += static_cast<int>(errors.size());
      node messages = value["messages"];
      if (messages.exists() && !messages.is_array()) return messages.missing("must be an array");
      if (messages.size() == 0) continue;
      auto phone_number_id = value["metadata"]["phone_number_id"].required_text();
      if (!phone_number_id) return phone_number_id.err();
      message_context ctx{entry["id"].text_or(""), *phone_number_id,
                          value["metadata"]["display_phone_number"].text_or(*phone_number_id),
                          value["contacts"], now};
      for (std::size_t m = 0; m < messages.size(); ++m) {
        auto mapped = map_message(messages.at(m), ctx);
        if (!mapped) return mapped.err();
        if (*mapped) {
          out.contacts.push_back(std::move(**mapped));
        } else {
          ++ignored["message:" + messages.at(m)["type"].text_or("")];
        }
      }
    }
  }
  count_ignored(settings_.name, ignored);
  if (out.contacts.empty()) out.ignored = describe(ignored);
  return out;
}

}  // namespace omni::connectors::whatsapp
