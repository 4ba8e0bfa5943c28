#include "connectors/payload.h"

#include <gtest/gtest.h>

#include <string>

namespace omni::connectors::payload {
namespace {

TEST(payload_node, errors_name_the_path_short_or_long) {
  auto doc = parse(R"({"entry":[{"changes":[{"value":{"messages":[{"from":1},{"id":"x"}]}}]}]})");
  ASSERT_TRUE(doc);
  node root(*doc);
  node msg = root["entry"].at(0)["changes"].at(0)["value"]["messages"].at(1);
  EXPECT_EQ(*msg["id"].text(), "x");
  auto from = msg["from"].required_text();
  ASSERT_FALSE(from);
  EXPECT_EQ(from.err().field, "entry[0].changes[0].value.messages[1].from");
  auto first = root["entry"].at(0)["changes"].at(0)["value"]["messages"].at(0)["from"];
  EXPECT_EQ(*first.integer(), 1);
  EXPECT_EQ(root["entry"].at(7)["changes"].missing().field, "entry[7].changes");
  EXPECT_EQ(root["nope"]["deeper"].missing("absent").message, "absent");

  // Past the inline capacity the path moves to a string and keeps growing correctly.
  const std::string key(40, 'k');
  std::string expected;
  node n = root;
  for (int i = 0; i < 5; ++i) {
    n = n[key];
    expected += (expected.empty() ? "" : ".") + key;
    EXPECT_EQ(n.path(), expected);
    n = n.at(12345);
    expected += "[12345]";
    EXPECT_EQ(n.path(), expected);
    EXPECT_FALSE(n.exists());
  }
  EXPECT_GT(expected.size(), node::inline_path_bytes);
  EXPECT_EQ(n.missing().field, expected);
  // A copy taken before the overflow is unaffected.
  node copy = root[key];
  EXPECT_EQ(copy.path(), key);
}

TEST(payload_node, scalars_by_type) {
  auto doc = parse(R"({"s":"Привет","i":-42,"u":18446744073709551615,"d":55.7558,"w":37.0,
                      "t":true,"f":false,"n":null,"a":[1,2,3],"o":{"k":1},"is":"123","bad":"12x"})");
  ASSERT_TRUE(doc) << doc.err().to_string();
  node root(*doc);
  EXPECT_EQ(*root["s"].text(), "Привет");
  EXPECT_EQ(*root["i"].text(), "-42");
  EXPECT_EQ(*root["i"].integer(), -42);
  EXPECT_EQ(*root["u"].text(), "18446744073709551615");
  EXPECT_FALSE(root["u"].integer());  // beyond int64: not silently wrapped
  EXPECT_FALSE(root["d"].text());     // a fraction is not an id
  EXPECT_EQ(*root["d"].number_text(), "55.7558");
  EXPECT_EQ(*root["w"].number_text(), "37.0");  // as nlohmann::json::dump writes it
  EXPECT_EQ(*root["i"].number_text(), "-42");
  EXPECT_FALSE(root["s"].number_text());
  EXPECT_EQ(root["t"].boolean(), true);
  EXPECT_EQ(root["f"].boolean(), false);
  EXPECT_FALSE(root["s"].boolean());
  EXPECT_FALSE(root["n"].exists());
  EXPECT_FALSE(root["absent"].exists());
  EXPECT_EQ(root["a"].size(), 3u);
  EXPECT_EQ(*root["a"].at(2).integer(), 3);
  EXPECT_FALSE(root["a"].at(3).exists());
  EXPECT_EQ(root["o"].size(), 0u);
  EXPECT_EQ(*root["is"].integer(), 123);
  EXPECT_FALSE(root["bad"].integer());
  EXPECT_EQ(root["o"].required_text().err().to_string(), "o: must be a string, got object");
  EXPECT_EQ(root["t"].required_integer().err().to_string(), "t: must be an integer, got boolean");
  EXPECT_EQ(root["n"].required_text().err().to_string(), "n: is required");
  EXPECT_EQ(root["o"].type_name(), "object");
  EXPECT_EQ(root["zz"].type_name(), "absent");
  EXPECT_EQ(root.first_key_except({"s", "i"}), "u");
  EXPECT_EQ(root["o"].first_key_except({"k"}), "");
  EXPECT_EQ(root["s"].first_key_except({}), "");
}

TEST(payload_parse, malformed_bodies_name_the_problem) {
  for (const char* body : {"", "{", R"({"a":1,})", R"({"a":"\x"})", "[1,2", "{} trailing", "nul",
                           "{\"bad utf8\":\"\xff\"}"}) {
    auto doc = parse(body);
    ASSERT_FALSE(doc) << body;
    EXPECT_NE(doc.err().message.find("malformed JSON"), std::string::npos) << doc.err().message;
  }
}

// simdjson reads integers of at most 64 bits; a valid body with a larger one (an id in a field the
// mapper does not even read) is still read, its big number as a double.
TEST(payload_parse, integers_beyond_64_bits_are_read_not_refused) {
  auto doc = parse(R"({"update_id":7,"huge":123456789012345678901234567890,"text":"ok"})");
  ASSERT_TRUE(doc) << doc.err().to_string();
  node root(*doc);
  EXPECT_EQ(*root["update_id"].integer(), 7);
  EXPECT_EQ(*root["text"].text(), "ok");
  EXPECT_EQ(*root["huge"].number_text(), "1.2345678901234568e+29");
}

// A document moved to another owner keeps its nodes' values (they point into the tape it owns).
TEST(payload_parse, a_moved_document_keeps_its_values) {
  auto doc = parse(R"({"k":"v","n":[{"x":1}]})");
  ASSERT_TRUE(doc);
  document moved = std::move(*doc);
  node root(moved);
  EXPECT_EQ(*root["k"].text(), "v");
  EXPECT_EQ(*root["n"].at(0)["x"].integer(), 1);
  auto other = parse(R"({"k":"w"})");  // a second parse on this thread does not touch the first
  ASSERT_TRUE(other);
  EXPECT_EQ(*root["k"].text(), "v");
  EXPECT_EQ(*node(*other)["k"].text(), "w");
}

}  // namespace
}  // namespace omni::connectors::payload
