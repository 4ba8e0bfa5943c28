#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <exception>

namespace omni::config {
namespace {

using namespace std::chrono_literals;

constexpr choice<node_role> role_names[] = {
    {"ingest", node_role::ingest}, {"router", node_role::router}, {"gateway", node_role::gateway}};

constexpr choice<log_level> level_names[] = {{"trace", log_level::trace},
                                             {"debug", log_level::debug},
                                             {"info", log_level::info},
                                             {"warn", log_level::warn},
                                             {"error", log_level::error}};

constexpr choice<log_sink> sink_names[] = {{"auto", log_sink::automatic},
                                           {"console", log_sink::console},
                                           {"journald", log_sink::journald}};

template <class E, std::size_t N>
std::string_view name_of(const choice<E> (&choices)[N], E value) {
  for (const auto& c : choices) {
    if (c.value == value) return c.name;
  }
  return "?";
}

std::string host_name() {
  char buffer[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "omniroute";
  return buffer;
}

bool name_chars_ok(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void parse_node(reader r, node_config& out) {
  out.id = r.optional<std::string>("id", host_name());
  if (out.id.empty()) r.error("id", "must not be empty");

  if (r.has("roles")) {
    out.roles.clear();
    std::vector<reader> roles = r.list("roles");
    for (auto& element : roles) {
      auto role = element.as_enum(role_names);
      if (!role) continue;
      if (std::find(out.roles.begin(), out.roles.end(), *role) != out.roles.end()) {
        element.error("role '" + std::string(to_string(*role)) + "' is listed twice");
        continue;
      }
      out.roles.push_back(*role);
    }
    if (roles.empty() && r.node()["roles"].IsSequence()) {
      r.error("roles", "needs at least one of ingest, router, gateway");
    }
  }

  out.state_dir = r.optional<std::string>("state_dir", out.state_dir.string());
  if (out.state_dir.empty()) r.error("state_dir", "must not be empty");
}

void parse_logging(reader r, logging_config& out) {
  out.level = r.optional_enum("level", level_names, out.level);
  out.sink = r.optional_enum("sink", sink_names, out.sink);
}

void parse_brokers(reader& r, kafka_config& out) {
  if (!r.has("brokers")) return;
  const YAML::Node& node = r.node()["brokers"];
  if (node.IsSequence()) {
    out.embedded = false;
    for (auto& element : r.list("brokers")) {
      if (auto a = element.as<address>()) out.brokers.push_back(std::move(*a));
    }
    if (out.brokers.empty()) r.error("brokers", "needs at least one host:port");
    return;
  }
  const std::size_t errors = r.sink().size();
  const std::string text = r.required<std::string>("brokers");
  if (r.sink().size() != errors || text == "embedded") return;
  if (trim(text).empty()) {
    r.error("brokers", "must not be empty: 'embedded' or a comma-separated list of host:port");
    return;
  }
  out.embedded = false;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (auto a = parse_address(item)) {
      out.brokers.push_back(std::move(*a));
    } else {
      r.error("brokers", "expected 'embedded' or a comma-separated list of host:port, got '" +
                             std::string(item) + "' in the list");
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

void parse_kafka(reader r, kafka_config& out) {
  parse_brokers(r, out);

  out.topic_prefix = r.optional<std::string>("topic_prefix", out.topic_prefix);
  if (!name_chars_ok(out.topic_prefix) || out.topic_prefix.size() > 200) {
    r.error("topic_prefix",
            "may only contain letters, digits, '.', '_' and '-' (Kafka topic names)");
  }

  out.partitions = r.optional<int>("partitions", out.partitions);
  if (out.partitions < 1) r.error("partitions", "must be at least 1");

  reader embedded = r.child("embedded");
  out.embedded_brokers = embedded.optional<int>("brokers", out.embedded_brokers);
  if (out.embedded_brokers < 1) embedded.error("brokers", "must be at least 1");

  out.client = r.string_map("client");
  if (out.client.contains("bootstrap.servers")) {
    r.child("client").error("bootstrap.servers", "is set from kafka.brokers; set that instead");
  }

  out.delivery_timeout =
      r.optional<std::chrono::milliseconds>("delivery_timeout", out.delivery_timeout);
  if (out.delivery_timeout <= 0ms) r.error("delivery_timeout", "must be greater than 0");
}

void parse_admin(reader r, admin_config& out) {
  out.listen = r.optional<address>("listen", out.listen);
  out.token = r.optional<std::string>("token");
  if (out.token && out.token->empty()) r.error("token", "must not be empty (omit it for no token)");
}

void parse_http(reader r, http_config& out) {
  out.listen = r.optional<address>("listen", out.listen);
  out.max_connections = r.optional<int>("max_connections", out.max_connections);
  if (out.max_connections < 1) r.error("max_connections", "must be at least 1");
  out.header_limit = r.optional<byte_size>("header_limit", byte_size{out.header_limit}).bytes;
  // Beast keeps a header field's length in 16 bits and throws on a longer one: a limit above
  // 65535 bytes would let one field past it.
  if (out.header_limit < 1024 || out.header_limit > 65535)
    r.error("header_limit", "must be between 1KiB and 65535 bytes (the HTTP parser's field limit)");
  out.body_limit = r.optional<byte_size>("body_limit", byte_size{out.body_limit}).bytes;
  if (out.body_limit < 1) r.error("body_limit", "must be at least 1 byte");
  out.read_timeout = r.optional<std::chrono::milliseconds>("read_timeout", out.read_timeout);
  if (out.read_timeout <= 0ms) r.error("read_timeout", "must be greater than 0");
  out.idle_timeout = r.optional<std::chrono::milliseconds>("idle_timeout", out.idle_timeout);
  if (out.idle_timeout <= 0ms) r.error("idle_timeout", "must be greater than 0");

  reader tls = r.child("tls");
  auto cert = tls.optional<std::string>("cert");
  auto key = tls.optional<std::string>("key");
  if (cert && key) {
    out.tls = tls_config{*cert, *key};
  } else if (cert) {
    tls.error("key is missing: set both cert and key, or neither");
  } else if (key) {
    tls.error("cert is missing: set both cert and key, or neither");
  }
}

void parse_connectors(reader& root, std::vector<connector_config>& out) {
  std::map<std::string, int> first_line;  // connector name -> line of its first definition
  for (auto& entry : root.list("connectors")) {
    if (!entry.is_set() || !entry.node().IsMap()) {
      entry.error("expected a map with 'type' and 'name'");
      continue;
    }
    connector_config c;
    std::size_t errors = entry.sink().size();
    c.type = entry.required<std::string>("type");
    bool type_ok = entry.sink().size() == errors;
    if (type_ok && c.type.empty()) {
      entry.error("type", "must not be empty");
      type_ok = false;
    }
    errors = entry.sink().size();
    c.name = entry.required<std::string>("name");
    bool name_ok = entry.sink().size() == errors;
    if (name_ok && c.name.empty()) {
      entry.error("name", "must not be empty");
      name_ok = false;
    } else if (name_ok && !name_chars_ok(c.name)) {
      entry.error("name", "'" + c.name + "' may only contain letters, digits, '.', '_' and '-'");
      name_ok = false;
    }
    if (name_ok) {
      const int line = entry.node()["name"].Mark().line + 1;
      auto [it, inserted] = first_line.emplace(c.name, line);
      if (!inserted) {
        entry.error("name", "duplicate connector name '" + c.name + "' (first used on line " +
                                std::to_string(it->second) + ")");
        name_ok = false;
      }
    }
    c.settings = entry.defer();
    if (type_ok && name_ok) out.push_back(std::move(c));
  }
}

}  // namespace

std::string_view to_string(node_role role) { return name_of(role_names, role); }
std::string_view to_string(log_level level) { return name_of(level_names, level); }
std::string_view to_string(log_sink sink) { return name_of(sink_names, sink); }

log_sink resolve_log_sink(log_sink configured, const char* journal_stream,
                          const char* invocation_id, std::string_view stderr_id) {
  if (configured != log_sink::automatic) return configured;
  if (journal_stream != nullptr && *journal_stream != '\0' && journal_stream == stderr_id) {
    return log_sink::journald;
  }
  if (invocation_id != nullptr && *invocation_id != '\0') return log_sink::journald;
  return log_sink::console;
}

log_sink resolve_log_sink(log_sink configured) {
  std::string stderr_id;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) == 0) {
    stderr_id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }
  return resolve_log_sink(configured, std::getenv("JOURNAL_STREAM"), std::getenv("INVOCATION_ID"),
                          stderr_id);
}

bool node_config::has_role(node_role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string kafka_config::bootstrap_servers() const {
  std::string out;
  for (const auto& b : brokers) {
    if (!out.empty()) out += ",";
    out += b.to_string();
  }
  return out;
}

void parse(reader& root, omniroute_config& out) {
  out.source = root.file();
  parse_node(root.child("node"), out.node);
  parse_logging(root.child("logging"), out.logging);
  parse_kafka(root.child("kafka"), out.kafka);
  parse_admin(root.child("admin"), out.admin);
  parse_http(root.child("http"), out.http);
  parse_connectors(root, out.connectors);
  out.routing = root.raw("routing");
  out.gateway = root.raw("gateway");
  root.finish();
}

namespace {

load_result finish_load(std::optional<subtree> tree, diagnostics& sink) {
  load_result result;
  if (tree) {
    omniroute_config cfg;
    try {
      reader root(*tree, sink);
      parse(root, cfg);
    } catch (const std::exception& e) {
      // The reader does not throw; this is a last guard so check-config never crashes.
      sink.add({.file = tree->file, .message = std::string("internal error: ") + e.what()});
    }
    if (sink.empty()) result.config = std::move(cfg);
    result.document = tree->node;
  }
  result.errors = sink.take_sorted();
  return result;
}

}  // namespace

load_result load_file(const std::filesystem::path& path) {
  diagnostics sink;
  auto tree = parse_yaml_file(path, sink);
  return finish_load(std::move(tree), sink);
}

load_result load_string(std::string_view text, const std::string& name) {
  diagnostics sink;
  auto tree = parse_yaml(text, name, sink);
  return finish_load(std::move(tree), sink);
}

reader connector_reader(const connector_config& connector, diagnostics& sink) {
  reader r(connector.settings, sink);
  r.accept({"type", "name"});
  return r;
}

}  // namespace omni::config
