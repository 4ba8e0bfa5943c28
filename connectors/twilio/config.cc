#include "connectors/twilio/config.h"

#include "connectors/twilio/twilio_connector.h"

namespace omni::connectors::twilio {

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  common_settings common = read_common(r);
  std::string path = r.optional<std::string>("path", "/hooks/twilio/" + entry.name);
  settings s;
  s.name = entry.name;
  s.auth_token = r.required<std::string>("auth_token");
  s.public_url = r.required<std::string>("public_url");
  s.account_sid = r.optional<std::string>("account_sid", "");
  s.voice_twiml = r.optional<std::string>("voice_twiml", s.voice_twiml);
  if (r.has("auth_token") && s.auth_token.empty()) r.error("auth_token", "must not be empty");
  if (r.has("public_url") && !s.public_url.starts_with("https://") &&
      !s.public_url.starts_with("http://"))
    r.error("public_url",
            "must be the absolute URL Twilio calls (https://host/...), without the /sms or /voice "
            "suffix");
  if (s.voice_twiml.find("<Response") == std::string::npos)
    r.error("voice_twiml", "must be a TwiML document (<Response>...</Response>)");
  if (path.empty() || path[0] != '/' || path.find('?') != std::string::npos)
    r.error("path", "must start with '/' and have no query string");
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  r.finish();
  if (sink.size() != errors_before) return nullptr;

  auto endpoint_for = [&](endpoint kind, std::string_view suffix) {
    settings es = s;
    es.public_url = endpoint_url(s.public_url, suffix);
    webhook_settings ws{entry.name, "twilio", path + std::string(suffix), common};
    return std::make_unique<webhook_connector>(
        std::move(ws), std::make_unique<provider>(std::move(es), kind), ctx);
  };
  return std::make_unique<line>(endpoint_for(endpoint::sms, "/sms"),
                                endpoint_for(endpoint::voice, "/voice"));
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::twilio
