#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/config/test_support.h"

namespace omni::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::formatted;
using testing::scoped_env;
using testing::scratch_dir;

std::vector<std::string> errors_of(const load_result& r) { return formatted(r.errors); }

std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("OMNI_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return OMNI_TEST_SOURCE_DIR;
}

TEST(load_config, empty_document_gives_every_default) {
  const load_result r = load_string("", "empty.yaml");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  const omniroute_config& c = *r.config;
  EXPECT_EQ(c.source, "empty.yaml");
  EXPECT_FALSE(c.node.id.empty());  // the host name
  EXPECT_THAT(c.node.roles, ElementsAre(node_role::ingest, node_role::router, node_role::gateway));
  EXPECT_TRUE(c.node.has_role(node_role::router));
  EXPECT_EQ(c.node.state_dir, "/var/lib/omniroute");
  EXPECT_EQ(c.logging.level, log_level::info);
  EXPECT_EQ(c.logging.sink, log_sink::automatic);
  EXPECT_TRUE(c.kafka.embedded);
  EXPECT_TRUE(c.kafka.brokers.empty());
  EXPECT_EQ(c.kafka.bootstrap_servers(), "");
  EXPECT_EQ(c.kafka.topic_prefix, "omni.");
  EXPECT_EQ(c.kafka.topic("contacts"), "omni.contacts");
  EXPECT_EQ(c.kafka.partitions, 6);
  EXPECT_EQ(c.kafka.embedded_brokers, 1);
  EXPECT_TRUE(c.kafka.client.empty());
  EXPECT_EQ(c.kafka.delivery_timeout, 30s);
  EXPECT_EQ(c.admin.listen, (address{"127.0.0.1", 9464}));
  EXPECT_EQ(c.admin.token, std::nullopt);
  EXPECT_EQ(c.http.listen, (address{"0.0.0.0", 8080}));
  EXPECT_EQ(c.http.max_connections, 10000);
  EXPECT_EQ(c.http.header_limit, 16u * 1024);
  EXPECT_EQ(c.http.body_limit, 1024u * 1024);
  EXPECT_EQ(c.http.read_timeout, 10s);
  EXPECT_EQ(c.http.idle_timeout, 60s);
  EXPECT_FALSE(c.http.tls.has_value());
  EXPECT_TRUE(c.connectors.empty());
  EXPECT_TRUE(c.routing.empty());
}

TEST(load_config, empty_sections_are_allowed) {
  const load_result r = load_string("node:\nlogging: {}\nkafka:\nconnectors:\nrouting:\n");
  EXPECT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
}

TEST(load_config, example_file_loads_clean) {
  const load_result r = load_file(source_dir() / "config/omniroute.yaml");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  const omniroute_config& c = *r.config;
  EXPECT_EQ(c.node.id, "omniroute-dev");
  EXPECT_EQ(c.node.state_dir, "./state");
  EXPECT_TRUE(c.kafka.embedded);
  EXPECT_EQ(c.admin.listen, (address{"127.0.0.1", 9464}));
  EXPECT_EQ(c.http.listen, (address{"127.0.0.1", 8080}));
  // The first run's web chat (the demo page); its demo agents are in the gateway section.
  ASSERT_EQ(c.connectors.size(), 1u);
  EXPECT_EQ(c.connectors[0].type, "webchat");
  EXPECT_EQ(c.connectors[0].name, "demo");
}

TEST(load_config, every_key_is_read) {
  scoped_env token("OMNI_TEST_ADMIN_TOKEN", "t0ken");
  const load_result r = load_string(
      "node:\n"
      "  id: router-1\n"
      "  roles: [router]\n"
      "  state_dir: /srv/omni\n"
      "logging: {level: debug, sink: journald}\n"
      "kafka:\n"
      "  brokers: 'k1:9092, k2:9093,[::1]:9094'\n"
      "  topic_prefix: acme.\n"
      "  partitions: 12\n"
      "  embedded: {brokers: 3}\n"
      "  client:\n"
      "    security.protocol: SASL_SSL\n"
      "    sasl.password: ${OMNI_TEST_ADMIN_TOKEN}\n"
      "  delivery_timeout: 2m\n"
      "admin: {listen: '0.0.0.0:9000', token: '${OMNI_TEST_ADMIN_TOKEN}'}\n"
      "http:\n"
      "  listen: '[::]:443'\n"
      "  max_connections: 50\n"
      "  header_limit: 8KiB\n"
      "  body_limit: 10MB\n"
      "  read_timeout: 500ms\n"
      "  idle_timeout: 5m\n"
      "  tls: {cert: /etc/c.pem, key: /etc/k.pem}\n"
      "routing:\n"
      "  queues: {support: {}}\n",
      "full.yaml");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  const omniroute_config& c = *r.config;
  EXPECT_EQ(c.node.id, "router-1");
  EXPECT_THAT(c.node.roles, ElementsAre(node_role::router));
  EXPECT_FALSE(c.node.has_role(node_role::ingest));
  EXPECT_EQ(c.node.state_dir, "/srv/omni");
  EXPECT_EQ(c.logging.level, log_level::debug);
  EXPECT_EQ(c.logging.sink, log_sink::journald);
  EXPECT_FALSE(c.kafka.embedded);
  EXPECT_EQ(c.kafka.bootstrap_servers(), "k1:9092,k2:9093,[::1]:9094");
  EXPECT_EQ(c.kafka.topic("contacts"), "acme.contacts");
  EXPECT_EQ(c.kafka.partitions, 12);
  EXPECT_EQ(c.kafka.embedded_brokers, 3);
  EXPECT_EQ(c.kafka.client.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.kafka.client.at("sasl.password"), "t0ken");
  EXPECT_EQ(c.kafka.delivery_timeout, 2min);
  EXPECT_EQ(c.admin.listen, (address{"0.0.0.0", 9000}));
  EXPECT_EQ(c.admin.token, "t0ken");
  EXPECT_EQ(c.http.listen, (address{"::", 443}));
  EXPECT_EQ(c.http.max_connections, 50);
  EXPECT_EQ(c.http.header_limit, 8192u);
  EXPECT_EQ(c.http.body_limit, 10'000'000u);
  EXPECT_EQ(c.http.read_timeout, 500ms);
  EXPECT_EQ(c.http.idle_timeout, 5min);
  ASSERT_TRUE(c.http.tls.has_value());
  EXPECT_EQ(c.http.tls->cert, "/etc/c.pem");
  EXPECT_EQ(c.http.tls->key, "/etc/k.pem");
  EXPECT_FALSE(c.routing.empty());
  EXPECT_EQ(c.routing.path, "routing");
  EXPECT_EQ(c.routing.file, "full.yaml");
}

TEST(load_config, empty_brokers_is_an_error_not_embedded) {
  scoped_env env("OMNI_TEST_EMPTY", "");
  const load_result r = load_string("kafka:\n  brokers: ${OMNI_TEST_EMPTY}\n", "omni.yaml");
  EXPECT_THAT(errors_of(r), ElementsAre("omni.yaml:2:12: kafka.brokers: must not be empty: "
                                        "'embedded' or a comma-separated list of host:port"));
}

TEST(load_config, brokers_may_be_a_yaml_list) {
  const load_result r = load_string("kafka:\n  brokers: [a:1, b:2]\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  EXPECT_EQ(r.config->kafka.bootstrap_servers(), "a:1,b:2");
}

TEST(load_config, typo_in_top_level_key_suggests_the_right_one) {
  const load_result r = load_string("node: {}\nkafak:\n  brokers: embedded\n", "omni.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:2:1: unknown key 'kafak'; did you mean 'kafka'?"));
}

TEST(load_config, typo_in_nested_key_suggests_the_right_one) {
  const load_result r = load_string("kafka:\n  partitions: 3\n  topic_prefx: x.\n", "omni.yaml");
  EXPECT_THAT(errors_of(r), ElementsAre("omni.yaml:3:3: unknown key 'topic_prefx' in 'kafka'; did "
                                        "you mean 'topic_prefix'?"));
}

TEST(load_config, wrong_type_names_key_and_position) {
  const load_result r = load_string("kafka:\n  partitions: many\n", "omni.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:2:15: kafka.partitions: expected an integer, got 'many'"));
}

TEST(load_config, missing_secret_file_names_the_path) {
  const load_result r =
      load_string("admin:\n  token: ${file:/nonexistent/admin-token}\n", "omni.yaml");
  EXPECT_THAT(errors_of(r), ElementsAre("omni.yaml:2:10: admin.token: cannot read secret file "
                                        "'/nonexistent/admin-token': No such file or directory"));
}

TEST(load_config, secret_in_kafka_client_from_credentials_directory) {
  scratch_dir dir;
  dir.write("kafka-password", "pw\n");
  scoped_env env("CREDENTIALS_DIRECTORY", dir.path().string());
  const load_result r =
      load_string("kafka:\n  client:\n    sasl.password: ${file:kafka-password}\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  EXPECT_EQ(r.config->kafka.client.at("sasl.password"), "pw");
}

TEST(load_config, unset_env_secret_is_named) {
  scoped_env env("OMNI_TEST_NO_TOKEN", std::nullopt);
  const load_result r = load_string("admin:\n  token: ${OMNI_TEST_NO_TOKEN}\n", "omni.yaml");
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:2:10: admin.token: environment variable 'OMNI_TEST_NO_TOKEN' "
                          "is not set (referenced as ${OMNI_TEST_NO_TOKEN})"));
}

TEST(load_config, escaped_dollar_brace_stays_literal) {
  const load_result r = load_string("admin:\n  token: \"a$${b}\"\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  EXPECT_EQ(r.config->admin.token, "a${b}");
}

TEST(load_config, duplicate_connector_name) {
  const load_result r = load_string(
      "connectors:\n"
      "  - type: imap\n"
      "    name: support\n"
      "  - type: webchat\n"
      "    name: support\n",
      "omni.yaml");
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:5:11: connectors[1].name: duplicate connector name 'support' "
                          "(first used on line 3)"));
}

TEST(load_config, connector_entries_need_type_and_valid_name) {
  const load_result r = load_string(
      "connectors:\n"
      "  - name: a\n"
      "  - type: imap\n"
      "    name: 'has space'\n"
      "  - just-a-string\n"
      "  - {type: [x], name: ''}\n",
      "omni.yaml");
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:2:5: connectors[0]: missing required key 'type'",
                          "omni.yaml:4:11: connectors[1].name: 'has space' may only contain "
                          "letters, digits, '.', '_' and '-'",
                          "omni.yaml:5:5: connectors[2]: expected a map with 'type' and 'name'",
                          "omni.yaml:6:12: connectors[3].type: expected a string, got a list",
                          "omni.yaml:6:23: connectors[3].name: must not be empty"));
}

TEST(load_config, tls_with_only_cert) {
  const load_result r = load_string(
      "http:\n"
      "  tls:\n"
      "    cert: /etc/omni/cert.pem\n",
      "omni.yaml");
  EXPECT_THAT(errors_of(r),
              ElementsAre("omni.yaml:3:5: http.tls: key is missing: set both cert and key, or "
                          "neither"));
}

TEST(load_config, yaml_syntax_error_is_one_diagnostic) {
  const load_result r = load_string("kafka:\n  brokers: [a:1\nhttp: {}\n", "omni.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_EQ(r.errors[0].column, 5);
  EXPECT_EQ(to_string(r.errors[0]),
            "omni.yaml:3:5: YAML syntax error: end of sequence flow not found");
}

TEST(load_config, unreadable_file_is_one_diagnostic) {
  const load_result r = load_file("/nonexistent/omniroute.yaml");
  EXPECT_THAT(errors_of(r),
              ElementsAre("/nonexistent/omniroute.yaml: cannot read: No such file or directory"));
}

TEST(load_config, every_error_is_reported_in_file_order) {
  scoped_env env("OMNI_TEST_NO_TOKEN", std::nullopt);
  const load_result r = load_string(
      "node:\n"
      "  roles: [ingest, routr, ingest]\n"
      "logging:\n"
      "  level: verbose\n"
      "kafka:\n"
      "  brokers: 'k1:9092,k2'\n"
      "  partitions: 0\n"
      "  delivery_timeout: 30\n"
      "  client:\n"
      "    bootstrap.servers: x:1\n"
      "admin:\n"
      "  listen: localhost\n"
      "  token: ${OMNI_TEST_NO_TOKEN}\n"
      "http:\n"
      "  header_limit: 16kb\n"
      "  max_connections: 0\n"
      "  tls: {key: k.pem}\n"
      "routes: {}\n",
      "omni.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(
      errors_of(r),
      ElementsAre(
          "omni.yaml:2:19: node.roles[1]: unknown value 'routr'; expected one of: ingest, "
          "router, gateway; did you mean 'router'?",
          "omni.yaml:2:26: node.roles[2]: role 'ingest' is listed twice",
          "omni.yaml:4:10: logging.level: unknown value 'verbose'; expected one of: trace, debug, "
          "info, warn, error",
          "omni.yaml:6:12: kafka.brokers: expected 'embedded' or a comma-separated list of "
          "host:port, got 'k2' in the list",
          "omni.yaml:7:15: kafka.partitions: must be at least 1",
          "omni.yaml:8:21: kafka.delivery_timeout: expected a duration such as 250ms, 30s, 5m or "
          "72h, got '30'",
          "omni.yaml:10:24: kafka.client.bootstrap.servers: is set from kafka.brokers; set that "
          "instead",
          "omni.yaml:12:11: admin.listen: expected an address host:port, got 'localhost'",
          "omni.yaml:13:10: admin.token: environment variable 'OMNI_TEST_NO_TOKEN' is not set "
          "(referenced as ${OMNI_TEST_NO_TOKEN})",
          "omni.yaml:15:17: http.header_limit: expected a byte size such as 1000, 64KiB or 1MiB, "
          "got '16kb'",
          "omni.yaml:16:20: http.max_connections: must be at least 1",
          "omni.yaml:17:8: http.tls: cert is missing: set both cert and key, or neither",
          "omni.yaml:18:1: unknown key 'routes' (known keys: node, logging, kafka, admin, http, "
          "connectors, routing, gateway)"));
}

TEST(load_config, roles_must_not_be_empty) {
  const load_result r = load_string("node:\n  roles: []\n", "omni.yaml");
  EXPECT_THAT(errors_of(r), ElementsAre("omni.yaml:2:10: node.roles: needs at least one of "
                                        "ingest, router, gateway"));
}

TEST(load_config, connector_factory_reads_its_own_subtree) {
  const load_result r = load_string(
      "kafka: {}\n"
      "connectors:\n"
      "  - type: imap\n"
      "    name: support-mail\n"
      "    host: imap.example.net:993\n"
      "    poll_interval: 30s\n"
      "    mailbx: INBOX\n",
      "omni.yaml");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  ASSERT_EQ(r.config->connectors.size(), 1u);
  const connector_config& c = r.config->connectors[0];
  EXPECT_EQ(c.type, "imap");
  EXPECT_EQ(c.name, "support-mail");
  EXPECT_EQ(c.settings.file, "omni.yaml");

  // What an imap factory would do with it.
  diagnostics sink;
  reader cr = connector_reader(c, sink);
  EXPECT_EQ(cr.required<address>("host"), (address{"imap.example.net", 993}));
  EXPECT_EQ(cr.optional<std::chrono::milliseconds>("poll_interval", 1min), 30s);
  EXPECT_EQ(cr.optional<std::string>("mailbox", "INBOX"), "INBOX");
  cr.required<std::string>("username");
  cr.finish();
  EXPECT_THAT(formatted(sink.take_sorted()),
              ElementsAre("omni.yaml:3:5: connectors[0]: missing required key 'username'",
                          "omni.yaml:7:5: unknown key 'mailbx' in 'connectors[0]'; did you mean "
                          "'mailbox'?"));
}

// The factory example in config/README.md, kept compiling and behaving as documented.
struct imap_config {
  address server;
  std::string username;
  std::string password;
  std::string mailbox;
  std::chrono::milliseconds poll{};
  bool verify = true;
};

imap_config parse_imap(const connector_config& entry, diagnostics& sink) {
  reader r = connector_reader(entry, sink);
  imap_config c;
  c.server = r.required<address>("server");
  c.username = r.required<std::string>("username");
  c.password = r.required<std::string>("password");
  c.mailbox = r.optional<std::string>("mailbox", "INBOX");
  c.poll = r.optional<std::chrono::milliseconds>("poll_interval", std::chrono::seconds{30});
  reader tls = r.child("tls");
  c.verify = tls.optional<bool>("verify", true);
  if (c.poll < std::chrono::seconds{1}) r.error("poll_interval", "must be at least 1s");
  r.finish();
  return c;
}

TEST(load_config, readme_factory_example) {
  scratch_dir dir;
  dir.write("imap-password", "pw\n");
  scoped_env env("CREDENTIALS_DIRECTORY", dir.path().string());
  const load_result r = load_string(
      "connectors:\n"
      "  - type: imap\n"
      "    name: support\n"
      "    server: imap.example.net:993\n"
      "    username: support@example.net\n"
      "    password: ${file:imap-password}\n"
      "    poll_interval: 500ms\n"
      "    tls: {verfy: false}\n"
      "  - type: imap\n"
      "    name: sales\n"
      "    server: imap.example.net:993\n"
      "    username: sales@example.net\n"
      "    password: x\n",
      "omni.yaml");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors_of(r));
  diagnostics sink;
  const imap_config support = parse_imap(r.config->connectors[0], sink);
  const imap_config sales = parse_imap(r.config->connectors[1], sink);
  EXPECT_EQ(support.password, "pw");
  EXPECT_EQ(support.mailbox, "INBOX");
  EXPECT_EQ(sales.poll, 30s);
  EXPECT_THAT(formatted(sink.take_sorted()),
              ElementsAre("omni.yaml:7:20: connectors[0].poll_interval: must be at least 1s",
                          "omni.yaml:8:11: unknown key 'verfy' in 'connectors[0].tls'; did you "
                          "mean 'verify'?"));
}

TEST(log_sink, auto_resolves_from_the_environment) {
  EXPECT_EQ(resolve_log_sink(log_sink::console, "1:2", "x", "1:2"), log_sink::console);
  EXPECT_EQ(resolve_log_sink(log_sink::journald, nullptr, nullptr, "1:2"), log_sink::journald);
  EXPECT_EQ(resolve_log_sink(log_sink::automatic, "8:42", nullptr, "8:42"), log_sink::journald);
  EXPECT_EQ(resolve_log_sink(log_sink::automatic, nullptr, "abc", "8:42"), log_sink::journald);
  EXPECT_EQ(resolve_log_sink(log_sink::automatic, "8:41", nullptr, "8:42"), log_sink::console);
  EXPECT_EQ(resolve_log_sink(log_sink::automatic, nullptr, nullptr, "8:42"), log_sink::console);
  EXPECT_EQ(to_string(log_sink::automatic), "auto");
  EXPECT_EQ(to_string(log_level::warn), "warn");
  EXPECT_EQ(to_string(node_role::gateway), "gateway");
}

}  // namespace
}  // namespace omni::config
