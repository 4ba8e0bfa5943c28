#include "config/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>

#include "config/secrets.h"
#include "tests/config/test_support.h"

namespace omni::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::formatted;
using testing::scoped_env;
using testing::scratch_dir;

enum class color { red, green, blue };
constexpr choice<color> color_names[] = {
    {"red", color::red}, {"green", color::green}, {"blue", color::blue}};

class reader_test : public ::testing::Test {
 protected:
  reader load(std::string_view text) {
    auto tree = parse_yaml(text, "t.yaml", sink_);
    EXPECT_TRUE(tree.has_value());
    return reader(tree.value_or(subtree{}), sink_);
  }
  std::vector<std::string> errors() const { return formatted(sink_.items()); }

  diagnostics sink_;
};

TEST_F(reader_test, converts_every_value_type) {
  reader r = load(
      "name: desk\n"
      "enabled: true\n"
      "off: False\n"
      "count: -12\n"
      "big: 9000000000\n"
      "ratio: 0.75\n"
      "tags: [a, b, \"c d\"]\n"
      "wait: 1m30s\n"
      "limit: 64KiB\n"
      "peer: '[::1]:9092'\n"
      "shade: green\n"
      "quoted_int: \"7\"\n");
  EXPECT_EQ(r.required<std::string>("name"), "desk");
  EXPECT_TRUE(r.required<bool>("enabled"));
  EXPECT_FALSE(r.optional<bool>("off", true));
  EXPECT_EQ(r.required<int>("count"), -12);
  EXPECT_EQ(r.required<std::int64_t>("big"), 9'000'000'000);
  EXPECT_DOUBLE_EQ(r.required<double>("ratio"), 0.75);
  EXPECT_THAT(r.required<std::vector<std::string>>("tags"), ElementsAre("a", "b", "c d"));
  EXPECT_EQ(r.required<std::chrono::milliseconds>("wait"), 90s);
  EXPECT_EQ(r.required<byte_size>("limit"), byte_size{65536});
  EXPECT_EQ(r.required<address>("peer"), (address{"::1", 9092}));
  EXPECT_EQ(r.required_enum("shade", color_names), color::green);
  EXPECT_EQ(r.required<int>("quoted_int"), 7);
  r.finish();
  EXPECT_THAT(errors(), ElementsAre());
}

TEST_F(reader_test, absent_and_null_keys_use_the_fallback) {
  reader r = load("present: 3\nempty:\n");
  EXPECT_EQ(r.optional<int>("absent", 5), 5);
  EXPECT_EQ(r.optional<int>("empty", 6), 6);
  EXPECT_EQ(r.optional<std::string>("absent"), std::nullopt);
  EXPECT_EQ(r.optional_enum("absent", color_names, color::blue), color::blue);
  EXPECT_TRUE(r.has("present"));
  EXPECT_FALSE(r.has("empty"));
  EXPECT_FALSE(r.has("absent"));
  r.finish();
  EXPECT_THAT(errors(), ElementsAre());
}

TEST_F(reader_test, wrong_type_names_key_expected_type_and_position) {
  reader r = load(
      "kafka:\n"
      "  partitions: many\n"
      "  wait: 30\n"
      "  on: yes\n"
      "  limit: 64kb\n"
      "  peer: localhost\n"
      "  tags: solo\n"
      "  small: 3000000000\n");
  reader kafka = r.child("kafka");
  EXPECT_EQ(kafka.optional<int>("partitions", 6), 6);
  EXPECT_EQ(kafka.optional<std::chrono::milliseconds>("wait", 1s), 1s);
  EXPECT_TRUE(kafka.optional<bool>("on", true));
  EXPECT_EQ(kafka.optional<byte_size>("limit", byte_size{1}), byte_size{1});
  EXPECT_EQ(kafka.optional<address>("peer"), std::nullopt);
  EXPECT_EQ(kafka.optional<std::vector<std::string>>("tags"), std::nullopt);
  EXPECT_EQ(kafka.optional<int>("small", 0), 0);
  r.finish();
  EXPECT_THAT(
      errors(),
      ElementsAre("t.yaml:2:15: kafka.partitions: expected an integer, got 'many'",
                  "t.yaml:3:9: kafka.wait: expected a duration such as 250ms, 30s, 5m or 72h, got "
                  "'30'",
                  "t.yaml:4:7: kafka.on: expected a boolean (true or false), got 'yes'",
                  "t.yaml:5:10: kafka.limit: expected a byte size such as 1000, 64KiB or 1MiB, "
                  "got '64kb'",
                  "t.yaml:6:9: kafka.peer: expected an address host:port, got 'localhost'",
                  "t.yaml:7:9: kafka.tags: expected a list of strings, got a scalar",
                  "t.yaml:8:10: kafka.small: integer '3000000000' is out of range (-2147483648 "
                  "to 2147483647)"));
}

TEST_F(reader_test, map_where_a_scalar_is_expected_and_the_reverse) {
  reader r = load("name: {first: a}\nsection: 5\nlist: {a: 1}\n");
  EXPECT_EQ(r.required<std::string>("name"), "");
  r.child("section");
  EXPECT_TRUE(r.list("list").empty());
  r.finish();
  EXPECT_THAT(errors(), ElementsAre("t.yaml:1:7: name: expected a string, got a map",
                                    "t.yaml:2:10: section: expected a map, got a scalar",
                                    "t.yaml:3:7: list: expected a list, got a map"));
}

TEST_F(reader_test, unknown_keys_get_a_suggestion_or_the_known_list) {
  reader r = load(
      "listen: a:1\n"
      "max_conections: 5\n"
      "colour: red\n");
  r.optional<address>("listen");
  r.optional<int>("max_connections", 1);
  r.optional<std::string>("token");
  r.finish();
  r.finish();  // idempotent
  EXPECT_THAT(
      errors(),
      ElementsAre("t.yaml:2:1: unknown key 'max_conections'; did you mean 'max_connections'?",
                  "t.yaml:3:1: unknown key 'colour' (known keys: listen, max_connections, "
                  "token)"));
}

TEST_F(reader_test, finish_walks_children_and_list_elements) {
  reader r = load(
      "outer:\n"
      "  inner:\n"
      "    levle: 3\n"
      "items:\n"
      "  - name: a\n"
      "  - name: b\n"
      "    nmae: c\n");
  r.child("outer").child("inner").optional<int>("level", 0);
  for (auto& item : r.list("items")) item.required<std::string>("name");
  r.finish();
  EXPECT_THAT(errors(),
              ElementsAre("t.yaml:3:5: unknown key 'levle' in 'outer.inner'; did you mean 'level'?",
                          "t.yaml:7:5: unknown key 'nmae' in 'items[1]'; did you mean 'name'?"));
}

TEST_F(reader_test, missing_required_key_points_at_the_map) {
  reader r = load(
      "items:\n"
      "  - type: imap\n"
      "  - name:\n");
  auto items = r.list("items");
  ASSERT_EQ(items.size(), 2u);
  for (auto& item : items) {
    item.optional<std::string>("type");
    item.required<std::string>("name");
  }
  r.child("absent").required<int>("deep");
  r.finish();
  EXPECT_THAT(errors(), ElementsAre("t.yaml:2:5: items[0]: missing required key 'name'",
                                    "t.yaml:3:5: items[1].name: missing value",
                                    "t.yaml:1:1: absent: missing required key 'deep'"));
}

TEST_F(reader_test, duplicate_keys_are_reported) {
  reader r = load("a: 1\nb: 2\na: 3\n");
  EXPECT_EQ(r.required<int>("a"), 1);
  r.optional<int>("b", 0);
  r.finish();
  EXPECT_THAT(errors(), ElementsAre("t.yaml:3:1: duplicate key 'a' (first set on line 1)"));
}

TEST_F(reader_test, enum_error_lists_allowed_values) {
  reader r = load("shade: gren\nother: purple\n");
  EXPECT_EQ(r.optional_enum("shade", color_names, color::red), color::red);
  EXPECT_EQ(r.required_enum("other", color_names), color::red);
  EXPECT_THAT(errors(), ElementsAre("t.yaml:1:8: shade: unknown value 'gren'; expected one of: "
                                    "red, green, blue; did you mean 'green'?",
                                    "t.yaml:2:8: other: unknown value 'purple'; expected one of: "
                                    "red, green, blue"));
}

TEST_F(reader_test, entries_and_string_maps) {
  reader r = load(
      "queues:\n"
      "  support: {weight: 2}\n"
      "  sales: {wieght: 1}\n"
      "props:\n"
      "  linger.ms: 5\n"
      "  acks: all\n"
      "  bad: [1]\n");
  std::vector<std::string> names;
  for (auto& [name, q] : r.entries("queues")) {
    names.push_back(name);
    q.optional<int>("weight", 1);
  }
  EXPECT_THAT(names, ElementsAre("support", "sales"));
  auto props = r.string_map("props");
  EXPECT_EQ(props.size(), 2u);
  EXPECT_EQ(props["linger.ms"], "5");
  EXPECT_EQ(props["acks"], "all");
  r.finish();
  EXPECT_THAT(errors(),
              ElementsAre("t.yaml:7:8: props.bad: expected a string, got a list",
                          "t.yaml:3:11: unknown key 'wieght' in 'queues.sales'; did you mean "
                          "'weight'?"));
}

TEST_F(reader_test, error_helpers_point_at_the_value) {
  reader r = load("port: 99\nempty:\n");
  r.error("port", "must be below 50");
  r.error("empty", "must be set");
  r.error("absent", "needed");
  r.child("port");
  EXPECT_THAT(errors(), ElementsAre("t.yaml:1:7: port: must be below 50",
                                    "t.yaml:2:1: empty: must be set", "t.yaml:1:1: absent: needed",
                                    "t.yaml:1:7: port: expected a map, got a scalar"));
}

TEST_F(reader_test, top_level_must_be_a_map) {
  reader r = load("- a\n- b\n");
  EXPECT_EQ(r.optional<int>("x", 1), 1);
  r.finish();
  EXPECT_THAT(errors(), ElementsAre("t.yaml:1:1: the top level must be a map, got a list"));
}

TEST_F(reader_test, yaml_syntax_error_is_one_diagnostic_with_position) {
  auto tree = parse_yaml("a: [1, 2\nb: 3\n", "bad.yaml", sink_);
  EXPECT_FALSE(tree.has_value());
  EXPECT_THAT(errors(),
              ElementsAre("bad.yaml:2:2: YAML syntax error: end of sequence flow not found"));
}

TEST_F(reader_test, several_documents_are_an_error) {
  EXPECT_FALSE(parse_yaml("a: 1\n---\nb: 2\n", "two.yaml", sink_).has_value());
  EXPECT_THAT(errors(),
              ElementsAre("two.yaml:3:1: expected one YAML document, found 2 (remove the '---')"));
}

TEST_F(reader_test, unreadable_file_has_no_position) {
  auto tree = parse_yaml_file("/nonexistent/omni.yaml", sink_);
  EXPECT_FALSE(tree.has_value());
  EXPECT_THAT(errors(),
              ElementsAre("/nonexistent/omni.yaml: cannot read: No such file or directory"));
}

TEST_F(reader_test, deferred_subtree_is_checked_by_its_later_reader) {
  reader r = load(
      "plugins:\n"
      "  - type: imap\n"
      "    host: mail.example.net\n"
      "    mailbx: INBOX\n");
  std::vector<subtree> kept;
  for (auto& p : r.list("plugins")) {
    p.required<std::string>("type");
    kept.push_back(p.defer());
  }
  r.finish();
  EXPECT_THAT(errors(), ElementsAre());  // the top level does not judge the plugin's keys

  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].path, "plugins[0]");
  diagnostics later;
  reader plugin(kept[0], later);
  plugin.accept("type");
  EXPECT_EQ(plugin.required<std::string>("host"), "mail.example.net");
  plugin.optional<std::string>("mailbox", "INBOX");
  plugin.finish();
  EXPECT_THAT(formatted(later.items()),
              ElementsAre("t.yaml:4:5: unknown key 'mailbx' in 'plugins[0]'; did you mean "
                          "'mailbox'?"));
}

TEST_F(reader_test, raw_keeps_a_subtree_unchecked) {
  reader r = load("routing:\n  anything: [goes]\n");
  subtree routing = r.raw("routing");
  subtree missing = r.raw("missing");
  r.finish();
  EXPECT_THAT(errors(), ElementsAre());
  EXPECT_FALSE(routing.empty());
  EXPECT_TRUE(routing.node.IsMap());
  EXPECT_EQ(routing.path, "routing");
  EXPECT_TRUE(missing.empty());
}

TEST_F(reader_test, assigning_a_subtree_rebinds_instead_of_overwriting) {
  reader r = load("a: {x: 1}\nb: {y: 2}\n");
  subtree a = r.raw("a");
  const subtree b = r.raw("b");
  subtree kept = a;
  kept = b;  // YAML::Node's operator= would turn node `a` into a copy of `b` here
  EXPECT_TRUE(std::as_const(a.node)["x"].IsDefined());
  EXPECT_EQ(kept.path, "b");
  EXPECT_TRUE(std::as_const(kept.node)["y"].IsDefined());
  std::vector<subtree> many{a, b};
  many[0] = std::move(many[1]);
  EXPECT_TRUE(std::as_const(a.node)["x"].IsDefined());
}

// --- Secret references ---

class secret_test : public reader_test {};

TEST_F(secret_test, environment_reference_is_expanded) {
  scoped_env env("OMNI_TEST_SECRET", "s3cret");
  reader r = load("password: ${OMNI_TEST_SECRET}\nurl: \"https://u:${OMNI_TEST_SECRET}@h/\"\n");
  EXPECT_EQ(r.required<std::string>("password"), "s3cret");
  EXPECT_EQ(r.required<std::string>("url"), "https://u:s3cret@h/");
  EXPECT_THAT(errors(), ElementsAre());
}

TEST_F(secret_test, unset_environment_variable_is_named) {
  scoped_env env("OMNI_TEST_UNSET", std::nullopt);
  reader r = load("a: 1\npassword: ${OMNI_TEST_UNSET}\n");
  EXPECT_EQ(r.required<std::string>("password"), "");
  EXPECT_THAT(errors(),
              ElementsAre("t.yaml:2:11: password: environment variable 'OMNI_TEST_UNSET' is not "
                          "set (referenced as ${OMNI_TEST_UNSET})"));
}

TEST_F(secret_test, file_reference_trims_one_trailing_newline) {
  scratch_dir dir;
  const auto file = dir.write("token", "abc\n\n");
  const auto crlf = dir.write("crlf", "xyz\r\n");
  reader r = load("token: ${file:" + file.string() + "}\ncrlf: ${file:" + crlf.string() + "}\n");
  EXPECT_EQ(r.required<std::string>("token"), "abc\n");
  EXPECT_EQ(r.required<std::string>("crlf"), "xyz");
  EXPECT_THAT(errors(), ElementsAre());
}

TEST_F(secret_test, missing_secret_file_names_the_path) {
  reader r = load("x: 1\ntoken: \"${file:/nonexistent/omni-token}\"\n");
  r.required<std::string>("token");
  EXPECT_THAT(errors(),
              ElementsAre("t.yaml:2:8: token: cannot read secret file '/nonexistent/omni-token': "
                          "No such file or directory"));
}

TEST_F(secret_test, relative_file_uses_credentials_directory) {
  scratch_dir dir;
  dir.write("kafka-password", "hunter2\n");
  scoped_env env("CREDENTIALS_DIRECTORY", dir.path().string());
  reader r = load("pw: ${file:kafka-password}\nmissing: ${file:nope}\n");
  EXPECT_EQ(r.required<std::string>("pw"), "hunter2");
  r.required<std::string>("missing");
  EXPECT_THAT(errors(),
              ElementsAre("t.yaml:2:10: missing: cannot read secret file '" +
                          (dir.path() / "nope").string() + "': No such file or directory"));
}

TEST_F(secret_test, relative_file_without_credentials_directory_uses_working_directory) {
  scoped_env env("CREDENTIALS_DIRECTORY", std::nullopt);
  const auto result = expand_secrets("${file:omni-surely-not-here}");
  EXPECT_FALSE(result.value.has_value());
  EXPECT_EQ(result.error,
            "cannot read secret file 'omni-surely-not-here': No such file or directory");
}

TEST_F(secret_test, dollar_dollar_brace_is_a_literal) {
  scoped_env env("OMNI_TEST_SECRET", "v");
  reader r = load("a: \"$${OMNI_TEST_SECRET}\"\nb: price $5 and $${x} and ${OMNI_TEST_SECRET}\n");
  EXPECT_EQ(r.required<std::string>("a"), "${OMNI_TEST_SECRET}");
  EXPECT_EQ(r.required<std::string>("b"), "price $5 and ${x} and v");
  EXPECT_THAT(errors(), ElementsAre());
}

TEST_F(secret_test, malformed_references_are_errors) {
  EXPECT_EQ(expand_secrets("${UNCLOSED").error,
            "unterminated secret reference '${UNCLOSED' (write $${ for a literal ${)");
  EXPECT_EQ(expand_secrets("${}").error,
            "invalid secret reference '${}': expected ${ENV_NAME} or ${file:PATH}");
  EXPECT_EQ(expand_secrets("${1ABC}").error,
            "invalid secret reference '${1ABC}': expected ${ENV_NAME} or ${file:PATH}");
  EXPECT_EQ(expand_secrets("${file:}").error, "empty file path in secret reference '${file:}'");
  EXPECT_TRUE(has_secret_reference("a${B}"));
  EXPECT_FALSE(has_secret_reference("a$${B}"));
  EXPECT_FALSE(has_secret_reference("$5"));
}

TEST_F(secret_test, typed_values_are_expanded_but_secrets_never_echoed) {
  scoped_env port("OMNI_TEST_PORT", "127.0.0.1:9000");
  scoped_env bad("OMNI_TEST_BAD", "hunter2");
  reader r = load("listen: ${OMNI_TEST_PORT}\ncount: ${OMNI_TEST_BAD}\n");
  EXPECT_EQ(r.required<address>("listen"), (address{"127.0.0.1", 9000}));
  r.required<int>("count");
  EXPECT_THAT(errors(), ElementsAre("t.yaml:2:8: count: expected an integer, got "
                                    "'${OMNI_TEST_BAD}' (after substitution)"));
}

TEST_F(secret_test, list_elements_are_expanded_with_their_own_position) {
  scoped_env env("OMNI_TEST_UNSET", std::nullopt);
  reader r = load("tags:\n  - ok\n  - ${OMNI_TEST_UNSET}\n");
  EXPECT_EQ(r.optional<std::vector<std::string>>("tags"), std::nullopt);
  EXPECT_THAT(errors(), ElementsAre("t.yaml:3:5: tags[1]: environment variable 'OMNI_TEST_UNSET' "
                                    "is not set (referenced as ${OMNI_TEST_UNSET})"));
}

}  // namespace
}  // namespace omni::config
