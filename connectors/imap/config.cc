#include "connectors/imap/config.h"

#include <iconv.h>

#include "connectors/imap/imap_connector.h"

namespace omni::connectors::imap {

namespace {

std::optional<smtp_settings> read_smtp(config::reader& r) {
  if (!r.has("smtp")) return std::nullopt;
  config::reader sr = r.child("smtp");
  smtp_settings s;
  auto server = sr.required<config::address>("server");
  s.host = server.host;
  s.port = server.port;
  enum class mode { starttls, implicit, none };
  static constexpr config::choice<mode> modes[] = {
      {"starttls", mode::starttls}, {"implicit", mode::implicit}, {"none", mode::none}};
  mode m = sr.optional_enum("tls", modes, mode::starttls);
  s.implicit_tls = m == mode::implicit;
  s.starttls = m == mode::starttls;
  if (m == mode::none && !s.host.empty() && !config::is_loopback(s.host))
    sr.error("tls", "'none' would send the password in clear; allowed only for a loopback server");
  s.ca_file = sr.optional<std::string>("ca_file", "");
  s.verify = sr.optional<bool>("verify_certificate", true);
  s.username = sr.optional<std::string>("username", "");
  s.password = sr.optional<std::string>("password", "");
  if (!s.username.empty() && s.password.empty())
    sr.error("password", "required with `username` (use ${file:...} to keep it out of the file)");
  s.from = sr.required<std::string>("from");
  if (!s.from.empty() && s.from.find('@') == std::string::npos)
    sr.error("from", "must be an email address");
  s.from_name = sr.optional<std::string>("from_name", "");
  s.helo = sr.optional<std::string>("helo", s.helo);
  s.timeout = sr.optional<std::chrono::milliseconds>("timeout", s.timeout);
  return s;
}

}  // namespace

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  settings s;
  s.name = entry.name;
  s.common = read_common(r);
  auto server = r.required<config::address>("server");
  s.server.host = server.host;
  s.server.port = server.port;
  static constexpr config::choice<tls_mode> modes[] = {
      {"implicit", tls_mode::implicit}, {"starttls", tls_mode::starttls}, {"none", tls_mode::none}};
  s.server.tls = r.optional_enum("tls", modes, tls_mode::implicit);
  if (s.server.tls == tls_mode::none && !s.server.host.empty() &&
      !config::is_loopback(s.server.host))
    r.error("tls", "'none' would send the password in clear; allowed only for a loopback server");
  s.server.ca_file = r.optional<std::string>("ca_file", "");
  s.server.verify = r.optional<bool>("verify_certificate", true);
  s.username = r.required<std::string>("username");
  s.password = r.required<std::string>("password");
  static constexpr config::choice<auth_mechanism> auths[] = {{"plain", auth_mechanism::plain},
                                                             {"login", auth_mechanism::login}};
  s.auth = r.optional_enum("auth", auths, auth_mechanism::plain);
  s.mailboxes = r.optional<std::vector<std::string>>("mailboxes", s.mailboxes);
  if (s.mailboxes.empty()) r.error("mailboxes", "needs at least one mailbox");
  s.processed_folder = r.optional<std::string>("processed_folder", s.processed_folder);
  s.processed_keyword = r.optional<std::string>("processed_keyword", s.processed_keyword);
  if (s.processed_keyword.empty() || s.processed_keyword[0] == '\\' ||
      s.processed_keyword.find_first_of(" (){%*\"\\]") != std::string::npos)
    r.error("processed_keyword", "must be an IMAP keyword atom such as $Routed");
  for (const auto& mb : s.mailboxes)
    if (mb == s.processed_folder)
      r.error("processed_folder", "must differ from the mailboxes it empties ('" + mb + "')");
  s.address = r.optional<std::string>("address", "");
  s.idle_refresh = r.optional<std::chrono::milliseconds>("idle_refresh", s.idle_refresh);
  if (s.idle_refresh >= std::chrono::minutes{29} || s.idle_refresh < std::chrono::seconds{1})
    r.error("idle_refresh", "must be between 1s and 29m (servers may drop an IDLE after 30 min)");
  s.poll_interval = r.optional<std::chrono::milliseconds>("poll_interval", s.poll_interval);
  s.timeout = r.optional<std::chrono::milliseconds>("timeout", s.timeout);
  s.reconnect_min = r.optional<std::chrono::milliseconds>("reconnect_min", s.reconnect_min);
  s.reconnect_max = r.optional<std::chrono::milliseconds>("reconnect_max", s.reconnect_max);
  if (s.reconnect_min.count() <= 0 || s.reconnect_max < s.reconnect_min)
    r.error("reconnect_max", "needs 0 < reconnect_min <= reconnect_max");
  s.max_message_size =
      r.optional<config::byte_size>("max_message_size", {s.max_message_size}).bytes;
  if (s.max_message_size < 1024 || s.max_message_size > (1ull << 30))
    r.error("max_message_size", "must be between 1KiB and 1GiB");
  s.route_auto_replies = r.optional<bool>("route_auto_replies", false);
  s.mime.fallback_charsets =
      r.optional<std::vector<std::string>>("fallback_charsets", s.mime.fallback_charsets);
  for (const auto& cs : s.mime.fallback_charsets) {
    iconv_t cd = iconv_open("UTF-8", cs.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) {
      r.error("fallback_charsets", "unknown charset '" + cs + "'");
    } else {
      iconv_close(cd);
    }
  }
  s.mime.max_depth = r.optional<int>("max_mime_depth", s.mime.max_depth);
  if (s.mime.max_depth < 1 || s.mime.max_depth > 100)
    r.error("max_mime_depth", "must be between 1 and 100");
  s.smtp = read_smtp(r);
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<imap_connector>(std::move(s), ctx);
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::imap
