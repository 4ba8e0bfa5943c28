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

}  // namespace
}  // namespace omni::connectors::payload
