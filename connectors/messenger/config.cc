#include "connectors/messenger/config.h"

namespace omni::connectors::messenger {

namespace {

// `app_secret` (one) and/or `app_secrets` (a list, while rotating): at least one, none empty.
std::vector<std::string> read_app_secrets(config::reader& r) {
  std::size_t errors_before = r.sink().size();
  std::vector<std::string> secrets;
  if (auto one = r.optional<std::string>("app_secret")) {
    if (one->empty()) r.error("app_secret", "must not be empty");
    secrets.push_back(std::move(*one));
  }
  if (auto many = r.optional<std::vector<std::string>>("app_secrets")) {
    for (auto& s : *many) {
      if (s.empty()) r.error("app_secrets", "must not contain an empty secret");
      secrets.push_back(std::move(s));
    }
  }
  if (secrets.empty() && r.sink().size() == errors_before)
    r.error("app_secret", "is required (the Meta app secret; `app_secrets: [...]` while rotating)");
  return secrets;
}

}  // namespace

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  std::string type(to_string(platform_));
  webhook_settings ws{entry.name, type, "/hooks/" + type + "/" + entry.name, read_common(r)};
  ws.path = r.optional<std::string>("path", ws.path);
  settings s;
  s.name = entry.name;
  s.from = platform_;
  s.app_secrets = read_app_secrets(r);
  std::size_t before_token = sink.size();
  s.verify_token = r.required<std::string>("verify_token");
  if (sink.size() == before_token && s.verify_token.empty())
    r.error("verify_token", "must not be empty");
  if (ws.path.empty() || ws.path[0] != '/') r.error("path", "must start with '/'");
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webhook_connector>(std::move(ws),
                                             std::make_unique<provider>(std::move(s)), ctx);
}

}  // namespace omni::connectors::messenger
