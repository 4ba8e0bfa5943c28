#include "core/json/parse.h"

#include <gtest/gtest.h>

#include <string>

namespace omni::core {
namespace {

TEST(JsonParse, ReadsOrdinaryDocuments) {
  auto j = parse_json(R"({"a":[1,{"b":"x"}],"s":"[{not a bracket"})");
  ASSERT_TRUE(j) << j.err().to_string();
  EXPECT_EQ((*j)["a"][1]["b"], "x");
  EXPECT_EQ((*j)["s"], "[{not a bracket");
}

TEST(JsonParse, DepthCountsBracketsOutsideStringsOnly) {
  EXPECT_FALSE(json_too_deep(R"([[["\"[[[[[[[["]]])", 3));
  EXPECT_EQ(json_too_deep("[[[[", 3), 3u);
  EXPECT_EQ(json_too_deep(R"({"a":{"b":[[1]]}})", 3), 11u);
  EXPECT_FALSE(json_too_deep(R"({"a":{"b":[[1]]}})", 4));
  // Closed levels do not count: depth, not bracket total.
  EXPECT_FALSE(json_too_deep("[][][][][][][][][]", 1));
}

TEST(JsonParse, AMillionLevelsAreRefusedWithoutTouchingTheStack) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  auto j = parse_json(deep);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.err().message, "JSON nested deeper than 256 levels (at byte 256)");
  // Just inside the limit it parses (and the tree can be dumped and destroyed).
  const std::string ok = std::string(256, '[') + std::string(256, ']');
  auto k = parse_json(ok);
  ASSERT_TRUE(k) << k.err().to_string();
  EXPECT_EQ(k->dump(), ok);
}

TEST(JsonParse, ErrorsNameThePlaceInPlainWords) {
  auto j = parse_json("{\"a\": tru }");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.err().message.rfind("malformed JSON at line 1, column ", 0), 0u) << j.err().message;
  EXPECT_EQ(j.err().message.find("json.exception"), std::string::npos) << j.err().message;
  auto e = parse_json("");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.err().message.find("json.exception"), std::string::npos) << e.err().message;
}

}  // namespace
}  // namespace omni::core
