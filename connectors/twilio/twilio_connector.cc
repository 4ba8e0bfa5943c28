#include "connectors/twilio/twilio_connector.h"

#include <algorithm>

namespace omni::connectors::twilio {

namespace http = core::http;

std::string signature(std::string_view auth_token, std::string_view url, form params) {
  std::sort(params.begin(), params.end());
  std::string data(url);
  for (const auto& [k, v] : params) data += k + v;
  return hmac_sha1_base64(auth_token, data);
}

std::string endpoint_url(std::string_view url, std::string_view suffix) {
  auto q = url.find('?');
  std::string path(url.substr(0, q));
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string out = path + std::string(suffix);
  if (q != std::string_view::npos) out += url.substr(q);
  return out;
}

bool is_caller_number(std::string_view from) {
  // Twilio shows a withheld caller ID as "anonymous", "Restricted", "Unavailable", "unknown" or as
  // +266696687 ("ANONYMOUS" on a keypad); none of them identifies anybody.
  if (from == "+266696687" || from.size() < 8 || from.size() > 16 || from[0] != '+') return false;
  return std::all_of(from.begin() + 1, from.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

const std::string* find(const form& params, std::string_view name) {
  for (const auto& [k, v] : params)
    if (k == name) return &v;
  return nullptr;
}

core::result<std::string> required(const form& params, std::string_view name) {
  const std::string* v = find(params, name);
  if (!v || v->empty()) return core::error{"is required", std::string(name)};
  return *v;
}

// Twilio's geographic hints about the caller, when it has them.
void add_location(const form& params, core::contact& c) {
  for (const char* field : {"FromCity", "FromState", "FromCountry"}) {
    const std::string* v = find(params, field);
    if (!v || v->empty()) continue;
    std::string key = "twilio_from_" + std::string(field + 4);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    c.attributes[key] = *v;
  }
}

void identify_caller(const std::string& from, core::contact& c) {
  if (is_caller_number(from))
    c.customer.identities.push_back({"phone", from});
  else
    c.attributes["twilio_from"] = from;  // withheld, or an alphanumeric sender id
}

}  // namespace

std::optional<http::response> provider::verify(const http::request& req) const {
  auto sig = req.header("X-Twilio-Signature");
  if (!sig || sig->empty()) return unauthorized("missing X-Twilio-Signature");
  form params = parse_form(req.body);
  bool ok = secure_equals(signature(settings_.auth_token, settings_.public_url, params), *sig);
  // Twilio's helper libraries disagree on repeated parameters (some sign each distinct pair
  // once): accept either when a pair repeats. Both are computed, so timing tells nothing.
  std::sort(params.begin(), params.end());
  if (std::adjacent_find(params.begin(), params.end()) != params.end()) {
    params.erase(std::unique(params.begin(), params.end()), params.end());
    ok |= secure_equals(signature(settings_.auth_token, settings_.public_url, params), *sig);
  }
  if (!ok)
    return forbidden("wrong X-Twilio-Signature (is public_url exactly the URL Twilio calls?)");
  if (!settings_.account_sid.empty()) {
    const std::string* account = find(params, "AccountSid");
    if (!account || !secure_equals(*account, settings_.account_sid))
      return forbidden("AccountSid is not this connector's account");
  }
  return std::nullopt;
}

http::response provider::accepted() const {
  http::response r = http::response::text(
      200, kind_ == endpoint::voice ? settings_.voice_twiml : std::string(empty_twiml));
  r.content_type = "text/xml";
  return r;
}

core::result<webhook_mapping> provider::map(const http::request& req,
                                            core::timestamp_ms now) const {
  if (auto type = req.header("Content-Type");
      type && type->find("application/x-www-form-urlencoded") == std::string_view::npos)
    return core::error{"expected application/x-www-form-urlencoded, got " + std::string(*type),
                       "Content-Type"};
  form params = parse_form(req.body);
  return kind_ == endpoint::sms ? map_sms(params, now) : map_voice(params, now);
}

core::result<webhook_mapping> provider::map_sms(const form& params, core::timestamp_ms now) const {
  // Delivery reports for messages we sent carry MessageStatus (queued, sent, delivered, ...).
  for (const char* status : {"MessageStatus", "SmsStatus"}) {
    const std::string* s = find(params, status);
    if (s && *s != "received")
      return webhook_mapping{{}, "status callback (" + std::string(status) + "=" + *s + ")"};
  }
  auto sid = required(params, "MessageSid");
  if (!sid) return sid.err();
  auto from = required(params, "From");
  if (!from) return from.err();
  auto to = required(params, "To");
  if (!to) return to.err();

  core::contact c;
  c.provider = "twilio";
  c.source_id = *sid;
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::sms;
  c.received_at = now;
  c.conversation = "twilio:sms:" + *to + ":" + *from;
  c.to = *to;
  identify_caller(*from, c);
  if (const std::string* body = find(params, "Body")) c.text = *body;

  int media = 0;
  if (const std::string* n = find(params, "NumMedia"); n && !n->empty()) {
    if (n->size() > 2 ||
        !std::all_of(n->begin(), n->end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return core::error{"must be an integer from 0 to 99, got '" + *n + "'", "NumMedia"};
    media = std::stoi(*n);
  }
  for (int i = 0; i < media; ++i) {
    std::string index = std::to_string(i);
    auto url = required(params, "MediaUrl" + index);
    if (!url) return url.err();
    const std::string* type = find(params, "MediaContentType" + index);
    c.attachments.push_back({"media" + index, type ? *type : "application/octet-stream", -1, *url});
  }
  add_location(params, c);
  if (const std::string* a = find(params, "AccountSid")) c.attributes["twilio_account_sid"] = *a;
  if (const std::string* m = find(params, "MessagingServiceSid"))
    c.attributes["twilio_messaging_service_sid"] = *m;
  return webhook_mapping::of(std::move(c));
}

core::result<webhook_mapping> provider::map_voice(const form& params,
                                                  core::timestamp_ms now) const {
  auto sid = required(params, "CallSid");
  if (!sid) return sid.err();
  auto status = required(params, "CallStatus");
  if (!status) return status.err();
  // Only the call's first request (ringing) is a contact; later ones are status callbacks.
  if (*status != "ringing")
    return webhook_mapping{{}, "call status callback (CallStatus=" + *status + ")"};
  const std::string* direction = find(params, "Direction");
  if (direction && !direction->starts_with("inbound"))
    return webhook_mapping{{}, "not an inbound call (Direction=" + *direction + ")"};
  auto from = required(params, "From");
  if (!from) return from.err();
  auto to = required(params, "To");
  if (!to) return to.err();

  core::contact c;
  c.provider = "twilio";
  c.source_id = *sid;
  c.id = core::contact_id(c.provider, c.source_id);
  c.chan = core::channel::voice;
  c.received_at = now;
  c.conversation = "twilio:call:" + *sid;
  c.to = *to;
  identify_caller(*from, c);
  if (const std::string* name = find(params, "CallerName"); name && *name != *from)
    c.customer.display_name = *name;
  add_location(params, c);
  c.attributes["twilio_call_status"] = *status;
  if (direction) c.attributes["twilio_direction"] = *direction;
  if (const std::string* a = find(params, "AccountSid")) c.attributes["twilio_account_sid"] = *a;
  return webhook_mapping::of(std::move(c));
}

core::result<bool> line::start() {
  if (auto ok = sms_->start(); !ok) return ok;
  return voice_->start();
}

void line::stop() {
  sms_->stop();
  voice_->stop();
}

}  // namespace omni::connectors::twilio
