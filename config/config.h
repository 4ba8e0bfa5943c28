#pragma once
// The daemon's typed configuration (omniroute.yaml) and its loader. Every key has a default, so an
// empty file is a working single-box setup on the embedded Kafka. Connector and routing subtrees
// are kept raw, with their file and position, for the connector factories and the routing config
// parser to read later with config::reader. See config/README.md for every key.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"
#include "config/reader.h"
#include "config/values.h"

namespace omni::config {

// What one process does (ARCHITECTURE.md, "Process roles and scale-out").
enum class node_role { ingest, router, gateway };
enum class log_level { trace, debug, info, warn, error };
// `automatic` means journald when systemd started us with the journal on stderr, else console.
enum class log_sink { automatic, console, journald };

std::string_view to_string(node_role role);
std::string_view to_string(log_level level);
std::string_view to_string(log_sink sink);

// `automatic` resolved against the environment: journald when $JOURNAL_STREAM names our stderr
// (see systemd.exec(5)) or $INVOCATION_ID is set; console otherwise. Other values pass through.
log_sink resolve_log_sink(log_sink configured);
// The same decision from explicit inputs (for tests): the two variables (null when unset) and
// stderr's "device:inode" as JOURNAL_STREAM would spell it.
log_sink resolve_log_sink(log_sink configured, const char* journal_stream,
                          const char* invocation_id, std::string_view stderr_id);

struct node_config {
  std::string id;  // default: the host name
  std::vector<node_role> roles{node_role::ingest, node_role::router, node_role::gateway};
  std::filesystem::path state_dir{"/var/lib/omniroute"};  // relative = to the working directory

  bool has_role(node_role role) const;
};

struct logging_config {
  log_level level = log_level::info;
  log_sink sink = log_sink::automatic;
};

struct kafka_config {
  bool embedded = true;          // `brokers: embedded`: librdkafka's in-process mock cluster
  std::vector<address> brokers;  // the bootstrap brokers when not embedded
  std::string topic_prefix = "omni.";
  int partitions = 6;        // for the embedded cluster and for topics omniroute creates
  int embedded_brokers = 1;  // mock broker count (`embedded.brokers`)
  std::map<std::string, std::string> client;  // extra librdkafka properties, secrets expanded
  std::chrono::milliseconds delivery_timeout{std::chrono::seconds{30}};

  // "host:port,host:port" for bootstrap.servers; empty when embedded.
  std::string bootstrap_servers() const;
  // topic_prefix + name, e.g. topic("contacts") == "omni.contacts".
  std::string topic(std::string_view name) const { return topic_prefix + std::string(name); }
};

struct admin_config {
  address listen{"127.0.0.1", 9464};
  std::optional<std::string> token;  // bearer token for the admin endpoints; none = open
};

struct tls_config {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// The shared public HTTP listener that webhook and web-chat connectors mount their routes on.
struct http_config {
  address listen{"0.0.0.0", 8080};
  int max_connections = 10000;
  std::uint64_t header_limit = 16 * 1024;
  std::uint64_t body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{std::chrono::seconds{10}};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds{60}};
  std::optional<tls_config> tls;
};

// One `connectors:` entry. `settings` is the whole entry (type and name included); the connector
// factory for `type` reads it with connector_reader().
struct connector_config {
  std::string type;
  std::string name;
  subtree settings;
};

struct omniroute_config {
  std::string source;  // the file (or name) it was loaded from
  node_config node;
  logging_config logging;
  kafka_config kafka;
  admin_config admin;
  http_config http;
  std::vector<connector_config> connectors;
  subtree routing;  // raw; empty() when the file has no routing section
  subtree gateway;  // raw; empty() when the file has no gateway section (routing/desk reads it)
};

struct load_result {
  std::optional<omniroute_config> config;  // set only when there are no errors
  std::vector<diagnostic> errors;          // every error, ordered by position
  YAML::Node document;                     // the parsed file (undefined when it did not parse)

  bool ok() const { return config.has_value(); }
};

// Load and validate. Never throws; all errors are collected.
load_result load_file(const std::filesystem::path& path);
load_result load_string(std::string_view text, const std::string& name = "<string>");

// Reads the top level of an already parsed document into `out`, reporting to the reader's sink
// (finish() included). For callers that combine several sources into one diagnostics sink.
void parse(reader& root, omniroute_config& out);

// A reader over a connector's entry for its factory: `type` and `name` already count as known, so
// the factory asks for its own keys and calls finish() to have the rest reported as unknown.
reader connector_reader(const connector_config& connector, diagnostics& sink);

}  // namespace omni::config
