#include "connectors/webchat/config.h"

#include "connectors/webchat/webchat_connector.h"

namespace omni::connectors::webchat {

namespace {
constexpr std::size_t min_secret_length = 16;

// A positive count no larger than `max`, from an int key.
std::size_t count(config::reader& r, std::string_view key, std::size_t fallback, std::size_t max) {
  auto v = r.optional<std::int64_t>(key);
  if (!v) return fallback;
  if (*v < 1 || static_cast<std::uint64_t>(*v) > max) {
    r.error(key, "must be between 1 and " + std::to_string(max));
    return fallback;
  }
  return static_cast<std::size_t>(*v);
}

std::size_t bytes(config::reader& r, std::string_view key, std::size_t fallback, std::size_t min,
                  std::size_t max) {
  auto v = r.optional<config::byte_size>(key);
  if (!v) return fallback;
  if (v->bytes < min || v->bytes > max) {
    r.error(key,
            "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
    return fallback;
  }
  return static_cast<std::size_t>(v->bytes);
}

std::chrono::milliseconds duration(config::reader& r, std::string_view key,
                                   std::chrono::milliseconds fallback,
                                   std::chrono::milliseconds min) {
  auto v = r.optional<std::chrono::milliseconds>(key, fallback);
  if (v < min) {
    r.error(key, "must be at least " + std::to_string(min.count()) + "ms");
    return fallback;
  }
  return v;
}
}  // namespace

std::unique_ptr<connector> factory::create(const config::connector_config& entry,
                                           config::diagnostics& sink, const context& ctx) const {
  std::size_t errors_before = sink.size();
  config::reader r = config::connector_reader(entry, sink);
  settings s;
  s.name = entry.name;
  s.common = read_common(r);
  s.path = r.optional<std::string>("path", s.path);
  if (s.path.empty() || s.path.front() != '/' || s.path.back() != '/')
    r.error("path",
            "must start and end with '/' (the widget is served under it, the WebSocket "
            "at <path>ws)");
  s.to = r.optional<std::string>("site", entry.name);
  s.allowed_origins = r.optional<std::vector<std::string>>("allowed_origins", {});
  for (const auto& o : s.allowed_origins)
    if (o != "*" && o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0)
      r.error("allowed_origins", "'" + o + "' is not an origin (https://host[:port], or *)");
  s.token_secret = r.optional<std::string>("token_secret", "");
  if (!s.token_secret.empty() && s.token_secret.size() < min_secret_length)
    r.error("token_secret", "must be at least 16 characters (e.g. openssl rand -hex 32)");
  s.identity_secrets = r.optional<std::vector<std::string>>("identity_secrets", {});
  for (const auto& k : s.identity_secrets)
    if (k.size() < min_secret_length) {
      r.error("identity_secrets", "each entry must be at least 16 characters");
      break;
    }
  s.max_connections = count(r, "max_connections", s.max_connections, 1'000'000);
  s.max_connections_per_ip =
      count(r, "max_connections_per_ip", s.max_connections_per_ip, 1'000'000);
  s.max_message_bytes = bytes(r, "max_message_bytes", s.max_message_bytes, 256, 1 << 20);
  s.send_queue_bytes = bytes(r, "send_queue_bytes", s.send_queue_bytes, 1024, 64 << 20);
  s.idle_timeout = duration(r, "idle_timeout", s.idle_timeout, std::chrono::seconds(2));
  s.start_timeout = duration(r, "start_timeout", s.start_timeout, std::chrono::milliseconds(100));
  s.deflate = r.optional<bool>("permessage_deflate", false);
  s.store.history = count(r, "history_limit", s.store.history, 10'000);
  s.store.retention = duration(r, "retention", s.store.retention, std::chrono::seconds(1));
  s.store.max_visitors = count(r, "max_visitors", s.store.max_visitors, 10'000'000);
  s.fields.text = std::min(s.fields.text, s.max_message_bytes);
  r.finish();
  if (sink.size() != errors_before) return nullptr;
  return std::make_unique<webchat_connector>(std::move(s), ctx);
}

void add_factories(factory_list& out) { out.push_back(std::make_unique<factory>()); }

}  // namespace omni::connectors::webchat
