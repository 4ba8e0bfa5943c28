#pragma once
// Twilio Programmable Messaging and Voice webhooks for one Twilio phone number (or a set of them
// sharing an account). Twilio posts form-encoded parameters; a request is authentic when
// X-Twilio-Signature is base64(HMAC-SHA1(auth token, public URL + every POST parameter sorted by
// name, name and value concatenated))
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
//
// Twilio reads the HTTP answer as TwiML, and SMS and voice want different TwiML, while a
// webhook_provider's success answer cannot see the request. So one `type: twilio` connector is a
// `line`: two webhook endpoints, <path>/sms and <path>/voice, each with its own provider object
// (one endpoint kind each) and its own signed public URL.
//
//   incoming SMS / MMS (MessageSid, SmsStatus=received)  -> `sms` contact, answered with an empty
//   <Response> incoming call (CallSid, CallStatus=ringing)          -> `voice` contact, answered
//   with voice_twiml status callbacks (MessageStatus, other CallStatus)   -> 200, ignored and
//   counted
//
// Pure logic in `provider`, no sockets; one instance per endpoint, read-only on request threads.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "connectors/webhook.h"

namespace omni::connectors::twilio {

inline constexpr std::string_view empty_twiml =
    R"(<?xml version="1.0" encoding="UTF-8"?><Response></Response>)";
inline constexpr std::string_view default_voice_twiml =
    R"(<?xml version="1.0" encoding="UTF-8"?><Response><Say>Please hold, connecting you to an agent.</Say><Enqueue>support</Enqueue></Response>)";

enum class endpoint { sms, voice };

struct settings {
  std::string name;
  std::string auth_token;   // the account's (primary) auth token: the signature key
  std::string public_url;   // the URL Twilio calls, as Twilio sees it (scheme, host, path, query)
  std::string account_sid;  // when set, requests for other accounts are refused
  std::string voice_twiml = std::string(default_voice_twiml);
};

using form = core::http::form_fields;
using core::http::parse_form;
// Twilio's signature of a request to `url` with POST parameters `params`.
std::string signature(std::string_view auth_token, std::string_view url, form params);
// `url` with `suffix` appended to its path (before any query string): endpoint_url(
// "https://h/t?x=1", "/sms") == "https://h/t/sms?x=1".
std::string endpoint_url(std::string_view url, std::string_view suffix);
// True for a number Twilio reports as a real E.164 caller (not anonymous / restricted / blocked).
bool is_caller_number(std::string_view from);

class provider : public webhook_provider {
 public:
  // `s.public_url` is the endpoint's own URL (the line's public_url + /sms or /voice).
  provider(settings s, endpoint kind) : settings_(std::move(s)), kind_(kind) {}
  std::optional<core::http::response> verify(const core::http::request& req) const override;
  core::result<webhook_mapping> map(const core::http::request& req,
                                    core::timestamp_ms now) const override;
  core::http::response accepted() const override;

 private:
  core::result<webhook_mapping> map_sms(const form& params, core::timestamp_ms now) const;
  core::result<webhook_mapping> map_voice(const form& params, core::timestamp_ms now) const;

  settings settings_;
  endpoint kind_;
};

// One `type: twilio` connector: the SMS and the voice endpoint, started and stopped together.
// Lives on the daemon's start thread like every connector; its endpoints are thread-safe.
class line : public connector {
 public:
  line(std::unique_ptr<webhook_connector> sms, std::unique_ptr<webhook_connector> voice)
      : sms_(std::move(sms)), voice_(std::move(voice)) {}
  std::string_view type() const override { return "twilio"; }
  const std::string& name() const override { return sms_->name(); }
  core::result<bool> start() override;
  void stop() override;

  const webhook_connector& sms() const { return *sms_; }
  const webhook_connector& voice() const { return *voice_; }

 private:
  std::unique_ptr<webhook_connector> sms_;
  std::unique_ptr<webhook_connector> voice_;
};

}  // namespace omni::connectors::twilio
