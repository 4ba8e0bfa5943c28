#include "routing/desk/protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace omni::routing::desk {
namespace {

TEST(DeskProtocol, ParsesEveryClientMessage) {
  auto a = parse_client_message(R"({"type":"auth","v":1,"token":"t0k","ref":"r1"})");
  ASSERT_TRUE(a) << a.err().to_string();
  EXPECT_EQ(a->type, client_type::auth);
  EXPECT_EQ(a->token, "t0k");
  EXPECT_EQ(a->ref, "r1");
  auto c = parse_client_message(
      R"({"type":"complete","contact_id":"c1","disposition":"solved","survey":true})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->survey);
  EXPECT_EQ(c->disposition, "solved");
  auto t = parse_client_message(R"({"type":"transfer","contact_id":"c1","queue":"billing"})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->target_queue, "billing");
  auto r = parse_client_message(R"({"type":"reply","contact_id":"c1","text":"Здравствуйте!"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "Здравствуйте!");
}

TEST(DeskProtocol, ErrorsSayWhatIsWrongAndMapToCloseCodes) {
  struct tc {
    const char* in;
    const char* code;
  } cases[] = {
      {"{not json", "bad_json"},
      {"[1,2]", "bad_json"},
      {"\xff\xfe", "bad_json"},
      {R"({"type":"dance"})", "unknown_type"},
      {R"({"no":"type"})", "bad_request"},
      {R"({"type":"accept"})", "bad_request"},
      {R"({"type":"accept","contact_id":5})", "bad_request"},
      {R"({"type":"presence","presence":"sleeping"})", "bad_request"},
      {R"({"type":"transfer","contact_id":"c","queue":"q","agent_id":"a"})", "bad_request"},
      {R"({"type":"reply","contact_id":"c"})", "bad_request"},
      {R"({"type":"ping","v":2})", "unsupported_version"},
  };
  for (const auto& t : cases) {
    auto r = parse_client_message(t.in);
    ASSERT_FALSE(r) << t.in;
    EXPECT_EQ(r.err().field, t.code) << t.in << ": " << r.err().message;
    EXPECT_FALSE(r.err().message.empty());
    EXPECT_EQ(close_code_for(r.err().field), close_code::bad_request);
  }
  EXPECT_EQ(close_code_for("token_expired"), close_code::unauthorized);
  EXPECT_EQ(close_code_for("forbidden"), close_code::forbidden);
  EXPECT_FALSE(close_code_for("conflict"));
}

TEST(DeskProtocol, ErrorAndAckMessagesAreJson) {
  auto e = nlohmann::json::parse(error_message("forbidden", "not yours \"x\"", "r9"));
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["code"], "forbidden");
  EXPECT_EQ(e["message"], "not yours \"x\"");
  EXPECT_EQ(e["ref"], "r9");
  auto a = nlohmann::json::parse(ack_message("r1", "accept", R"({"contact_id":"c1"})"));
  EXPECT_EQ(a["of"], "accept");
  EXPECT_EQ(a["contact_id"], "c1");
}

}  // namespace
}  // namespace omni::routing::desk
