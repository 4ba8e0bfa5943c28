#include "connectors/telephony/config.h"

#include <phonenumbers/phonenumberutil.h>

#include "connectors/telephony/ami.h"
#include "connectors/telephony/cti.h"
#include "connectors/telephony/esl.h"

namespace omni::connectors::telephony {

namespace {

// The keys every telephony connector shares: domain, default_region, agents,
// extension_is_agent, caller_id_wait.
call_settings read_calls(config::reader& r, const config::connector_config& entry,
                         std::string provider) {
  call_settings c;
  c.provider = std::move(provider);
  c.connector = entry.name;
  c.domain = read_common(r).domain;
  c.default_region = r.optional<std::string>("default_region", c.default_region);
  if (i18n::phonenumbers::PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(
          c.default_region) == 0)
    r.error("default_region",
            "must be an ISO 3166 region libphonenumber knows, e.g. RU, DE, US (got '" +
                c.default_region + "')");
  c.agents = r.string_map("agents");
  for (const auto& [ext, agent] : c.agents)
    if (ext.empty() || agent.empty())
      r.error("agents", "maps a PBX extension / user to an agent id; neither may be empty");
  c.extension_is_agent = r.optional<bool>("extension_is_agent", false);
  c.caller_id_wait = r.optional<std::chrono::milliseconds>("caller_id_wait", c.caller_id_wait);
  if (c.caller_id_wait.count() < 0 || c.caller_id_wait > std::chrono::seconds(30))
    r.error("caller_id_wait", "must be between 0s and 30s");
  return c;
}

pbx_settings read_pbx(config::reader& r, const config::connector_config& entry, std::string type,
                      int default_port) {
  pbx_settings p;
  p.name = entry.name;
  p.type = std::move(type);
  p.host = r.required<std::string>("host");
  int port = r.optional<int>("port", default_port);
  if (port < 1 || port > 65535)
    r.error("port", "must be a TCP port (1-65535)");
  else
    p.port = static_cast<std::uint16_t>(port);
  if (r.has("host") && p.host.empty()) r.error("host", "must not be empty");
  p.connect_timeout = r.optional<std::chrono::milliseconds>("connect_timeout", p.connect_timeout);
  p.login_timeout = r.optional<std::chrono::milliseconds>("login_timeout", p.login_timeout);
  p.backoff_min = r.optional<std::chrono::milliseconds>("reconnect_min", p.backoff_min);
  p.backoff_max = r.optional<std::chrono::milliseconds>("reconnect_max", p.backoff_max);
  for (auto [key, v] : {std::pair{"connect_timeout", p.connect_timeout},
                        {"login_timeout", p.login_timeout},
                        {"reconnect_min", p.backoff_min}})
    if (v.count() <= 0) r.error(key, "must be positive");
  if (p.backoff_max < p.backoff_min) r.error("reconnect_max", "must be at least reconnect_min");
  return p;
}

bool ignore_internal_default(config::reader& r) {
  return r.optional<bool>("ignore_internal", true);
}

}  // namespace

std::unique_ptr<connector> asterisk_factory::create(const config::connector_config& entry,
                                                    config::diagnostics& sink,
                                                    const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  call_settings calls = read_calls(r, entry, "asterisk");
  const bool tls = r.optional<bool>("tls", false);
  pbx_settings pbx = read_pbx(r, entry, "asterisk", tls ? 5039 : 5038);
  pbx.tls = tls;
  pbx.tls_ca = r.optional<std::string>("tls_ca", "");
  pbx.tls_verify = r.optional<bool>("tls_verify", true);
  if (!tls && (r.has("tls_ca") || r.has("tls_verify")))
    r.error(r.has("tls_ca") ? "tls_ca" : "tls_verify", "only applies with tls: true");
  ami_settings a;
  a.username = r.required<std::string>("username");
  a.secret = r.required<std::string>("secret");
  enum class auth { plain, md5 };
  static constexpr config::choice<auth> auths[] = {{"plain", auth::plain}, {"md5", auth::md5}};
  a.md5 = r.optional_enum("auth", auths, auth::md5) == auth::md5;
  a.events = r.optional<std::string>("events", a.events);
  a.contexts = r.optional<std::vector<std::string>>("contexts", {});
  a.ignore_internal = ignore_internal_default(r);
  if (r.has("username") && a.username.empty()) r.error("username", "must not be empty");
  if (a.events.find_first_of("\r\n") != std::string::npos) r.error("events", "must be one line");
  for (const auto* v : {&a.username, &a.secret})
    if (v->find_first_of("\r\n") != std::string::npos)
      r.error(v == &a.username ? "username" : "secret", "must not contain line breaks");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<pbx_client>(
      std::move(pbx), std::make_unique<ami_protocol>(std::move(a), std::move(calls), entry.name),
      ctx);
}

std::unique_ptr<connector> freeswitch_factory::create(const config::connector_config& entry,
                                                      config::diagnostics& sink,
                                                      const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  call_settings calls = read_calls(r, entry, "freeswitch");
  pbx_settings pbx = read_pbx(r, entry, "freeswitch", 8021);
  esl_settings e;
  e.password = r.required<std::string>("password");
  e.contexts = r.optional<std::vector<std::string>>("contexts", {});
  e.ignore_internal = ignore_internal_default(r);
  if (e.password.find_first_of("\r\n") != std::string::npos)
    r.error("password", "must not contain line breaks");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<pbx_client>(
      std::move(pbx), std::make_unique<esl_protocol>(std::move(e), std::move(calls), entry.name),
      ctx);
}

std::unique_ptr<connector> cti_factory::create(const config::connector_config& entry,
                                               config::diagnostics& sink,
                                               const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  call_settings calls = read_calls(r, entry, "cti");
  cti_settings s;
  s.name = entry.name;
  s.path = r.optional<std::string>("path", "/hooks/cti/" + entry.name);
  s.tokens = r.required<std::vector<std::string>>("tokens");
  if (r.has("tokens") && s.tokens.empty()) r.error("tokens", "must list at least one token");
  for (const auto& t : s.tokens)
    if (t.size() < 16) {
      r.error("tokens", "each token must be at least 16 characters (e.g. openssl rand -hex 32)");
      break;
    }
  if (s.path.empty() || s.path[0] != '/' || s.path.find('?') != std::string::npos)
    r.error("path", "must start with '/' and have no query string");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<cti_endpoint>(std::move(s), std::move(calls), ctx);
}

void add_factories(factory_list& out) {
  out.push_back(std::make_unique<asterisk_factory>());
  out.push_back(std::make_unique<freeswitch_factory>());
  out.push_back(std::make_unique<cti_factory>());
}

}  // namespace omni::connectors::telephony
