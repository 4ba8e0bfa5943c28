// The telephony connectors' pure parts, without sockets: the AMI and ESL framers (every split of
// the byte stream gives the same frames), the protocols' login state machines, the call tracker.
#include <gtest/gtest.h>

#include "connectors/telephony/ami.h"
#include "connectors/telephony/call_tracker.h"
#include "connectors/telephony/cti.h"
#include "connectors/telephony/esl.h"
#include "core/events/codec.h"

namespace omni::connectors::telephony {
namespace {

call_settings calls() {
  call_settings c;
  c.provider = "asterisk";
  c.connector = "pbx";
  c.domain = "acme";
  c.agents = {{"101", "alice"}, {"102", "bob"}};
  return c;
}

// ---- AMI framer ---------------------------------------------------------------------------------

constexpr std::string_view ami_stream =
    "Asterisk Call Manager/6.0.0\r\n"
    "Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: VarSet\r\nChanVariable: a=1\r\nChanVariable: b=2\r\nValue: x: y\r\n\r\n"
    "Event: Hangup\r\nUniqueid: 1.1\r\n\r\n";

std::vector<ami_message> frame_ami(const std::vector<std::string_view>& pieces, ami_framer& f) {
  std::vector<ami_message> out;
  for (auto p : pieces) f.feed(p, out);
  return out;
}

TEST(ami_framer, banner_messages_and_repeated_keys) {
  ami_framer f;
  auto m = frame_ami({ami_stream}, f);
  ASSERT_EQ(f.banner(), "Asterisk Call Manager/6.0.0");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].value("response"), "Success");  // keys are case-insensitive
  ASSERT_EQ(m[1].fields.size(), 4u);
  EXPECT_EQ(m[1].fields[1], (std::pair<std::string, std::string>{"ChanVariable", "a=1"}));
  EXPECT_EQ(m[1].fields[2], (std::pair<std::string, std::string>{"ChanVariable", "b=2"}));
  EXPECT_EQ(m[1].value("Value"), "x: y");  // only the first colon separates
  EXPECT_EQ(m[2].value("Uniqueid"), "1.1");
  EXPECT_EQ(f.bad_frames(), 0u);
}

TEST(ami_framer, every_split_of_the_stream_gives_the_same_messages) {
  ami_framer whole;
  auto expected = frame_ami({ami_stream}, whole);
  for (std::size_t i = 0; i <= ami_stream.size(); ++i) {
    for (std::size_t j = i; j <= ami_stream.size(); j += 7) {
      ami_framer f;
      auto got = frame_ami(
          {ami_stream.substr(0, i), ami_stream.substr(i, j - i), ami_stream.substr(j)}, f);
      ASSERT_EQ(got.size(), expected.size()) << i << "/" << j;
      for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k].fields, expected[k].fields);
    }
  }
  ami_framer bytewise;
  std::vector<ami_message> out;
  for (char c : ami_stream) bytewise.feed(std::string_view(&c, 1), out);
  EXPECT_EQ(out.size(), expected.size());
}

TEST(ami_framer, bad_lines_and_oversized_messages_are_counted_and_skipped) {
  ami_framer f(200);
  std::string big = "Event: Big\r\nData: " + std::string(300, 'x') + "\r\n\r\n";
  auto m = frame_ami(
      {"Asterisk Call Manager/6.0.0\r\n",
       "Event: A\r\nthis line has no colon\r\nUniqueid: 1\r\n\r\n", big, "Event: C\r\n\r\n"},
      f);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].value("Uniqueid"), "1");  // the good lines of a message with a bad one survive
  EXPECT_EQ(m[1].value("Event"), "C");     // and framing resumes after the oversized one
  EXPECT_EQ(f.bad_frames(), 2u);
}

// ---- AMI protocol -------------------------------------------------------------------------------

TEST(ami_protocol, plain_login_then_ready) {
  ami_protocol p({"omni", "s3cret", false}, calls(), "pbx");
  call_output out;
  auto r = p.feed("Asterisk Call Manager/6.0.0\r\n", 0, out);
  EXPECT_EQ(r.send,
            "Action: Login\r\nActionID: omni-login\r\nUsername: omni\r\nSecret: s3cret\r\n"
            "Events: call,agent\r\n\r\n");
  r = p.feed("Response: Success\r\nMessage: Authentication accepted\r\n\r\n", 0, out);
  EXPECT_TRUE(r.ready);
  EXPECT_TRUE(r.fatal.empty());
}

TEST(ami_protocol, md5_challenge_login) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  ami_protocol p({"omni", "s3cret", true}, calls(), "pbx");
  call_output out;
  auto r = p.feed("Asterisk Call Manager/6.0.0\r\n", 0, out);
  EXPECT_EQ(r.send, "Action: Challenge\r\nActionID: omni-challenge\r\nAuthType: MD5\r\n\r\n");
  r = p.feed("Response: Success\r\nChallenge: 840415273\r\n\r\n", 0, out);
  EXPECT_NE(r.send.find("AuthType: MD5\r\nKey: " + md5_hex("840415273s3cret") + "\r\n"),
            std::string::npos);
  EXPECT_EQ(r.send.find("Secret"), std::string::npos);  // the secret never crosses the wire
}

TEST(ami_protocol, refused_login_and_a_foreign_banner_are_fatal) {
  ami_protocol p({"omni", "wrong", false}, calls(), "pbx");
  call_output out;
  (void)p.feed("Asterisk Call Manager/6.0.0\r\n", 0, out);
  auto r = p.feed("Response: Error\r\nMessage: Authentication failed\r\n\r\n", 0, out);
  EXPECT_TRUE(r.auth_failed);
  EXPECT_EQ(r.fatal, "login failed: Authentication failed");
  p.reset();
  r = p.feed("SSH-2.0-OpenSSH_9.2\r\n", 0, out);
  EXPECT_NE(r.fatal.find("not an Asterisk manager"), std::string::npos);
}

TEST(ami_protocol, channel_resource) {
  EXPECT_EQ(channel_resource("PJSIP/101-00000005"), "101");
  EXPECT_EQ(channel_resource("SIP/trunk-ab-0000001a"), "trunk-ab");
  EXPECT_EQ(channel_resource("Local/102@agents-0000001a;1"), "102");
  EXPECT_EQ(channel_resource(""), "");
}

ami_message event(std::initializer_list<std::pair<std::string, std::string>> f) {
  ami_message m;
  m.fields.assign(f.begin(), f.end());
  return m;
}

TEST(ami_protocol, unknown_caller_waits_for_newcallerid) {
  ami_protocol p({"omni", "s", false}, calls(), "pbx");
  call_output out;
  EXPECT_TRUE(p.on_event(event({{"Event", "Newchannel"},
                                {"CallerIDNum", "<unknown>"},
                                {"Exten", "4951234567"},
                                {"Uniqueid", "9.1"},
                                {"Linkedid", "9.1"}}),
                         1000, out));
  EXPECT_TRUE(out.contacts.empty());
  EXPECT_TRUE(p.on_event(event({{"Event", "NewCallerid"},
                                {"CallerIDNum", "8 (912) 345-67-89"},
                                {"CallerIDName", "Ivan"},
                                {"Uniqueid", "9.1"},
                                {"Linkedid", "9.1"}}),
                         1100, out));
  ASSERT_EQ(out.contacts.size(), 1u);
  EXPECT_EQ(out.contacts[0].customer.identities,
            (std::vector<core::identity>{{"phone", "+79123456789"}}));
  EXPECT_EQ(out.contacts[0].customer.display_name, "Ivan");
  EXPECT_EQ(out.contacts[0].to, "4951234567");
  // A leg of the call (its Uniqueid is not the Linkedid) is not another call.
  EXPECT_FALSE(p.on_event(
      event({{"Event", "Newchannel"}, {"Uniqueid", "9.2"}, {"Linkedid", "9.1"}}), 1200, out));
  EXPECT_FALSE(p.on_event(event({{"Event", "PeerStatus"}}), 1200, out));
}

TEST(ami_protocol, contexts_and_internal_calls_are_filtered) {
  ami_settings s{"omni", "s", false};
  s.contexts = {"from-trunk"};
  ami_protocol p(s, calls(), "pbx");
  call_output out;
  auto newchannel = [](const char* id, const char* number, const char* context) {
    return event({{"Event", "Newchannel"},
                  {"CallerIDNum", number},
                  {"Context", context},
                  {"Uniqueid", id},
                  {"Linkedid", id}});
  };
  EXPECT_FALSE(p.on_event(newchannel("1.1", "+79123456789", "from-internal"), 0, out));
  EXPECT_FALSE(p.on_event(newchannel("1.2", "101", "from-trunk"), 0, out));  // agent alice's phone
  EXPECT_TRUE(p.on_event(newchannel("1.3", "+79123456789", "from-trunk"), 0, out));
  ASSERT_EQ(out.contacts.size(), 1u);
  EXPECT_EQ(out.contacts[0].attributes.at("call_id"), "1.3");
}

// ---- ESL framer ---------------------------------------------------------------------------------

std::string esl_event(const std::string& body) {
  return "Content-Length: " + std::to_string(body.size()) + "\nContent-Type: text/event-plain\n\n" +
         body;
}

TEST(esl_framer, content_length_bodies_survive_every_split) {
  std::string body =
      "Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Number: %2B79123456789\n"
      "Caller-Caller-ID-Name: %D0%98%D0%B2%D0%B0%D0%BD%20P\nUnique-ID: u-1\n\n";
  std::string stream = "Content-Type: auth/request\n\n" + esl_event(body) +
                       "Content-Type: command/reply\nReply-Text: +OK\n\n";
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    esl_framer f;
    std::vector<esl_frame> out;
    f.feed(std::string_view(stream).substr(0, i), out);
    f.feed(std::string_view(stream).substr(i), out);
    ASSERT_EQ(out.size(), 3u) << i;
    EXPECT_EQ(out[1].body, body);
    EXPECT_EQ(out[2].headers.value("Reply-Text"), "+OK");
  }
  std::uint64_t bad = 0;
  header_list e = parse_event_plain(body, bad);
  EXPECT_EQ(e.value("Caller-Caller-ID-Number"), "+79123456789");
  EXPECT_EQ(e.value("Caller-Caller-ID-Name"), "Иван P");
  EXPECT_EQ(bad, 0u);
}

TEST(esl_framer, a_broken_content_length_stops_framing_with_a_reason) {
  esl_framer f;
  std::vector<esl_frame> out;
  f.feed("Content-Length: 12x\nContent-Type: text/event-plain\n\nEvent-Name: X\n\n", out);
  EXPECT_TRUE(out.empty());
  EXPECT_NE(f.error().find("Content-Length '12x'"), std::string::npos);
  esl_framer g(64);
  g.feed(std::string(100, 'a'), out);
  EXPECT_NE(g.error().find("longer than 64"), std::string::npos);
}

TEST(esl_protocol, auth_subscribe_ready_and_refusal) {
  esl_protocol p({"ClueCon", {}, true}, calls(), "fs");
  call_output out;
  auto r = p.feed("Content-Type: auth/request\n\n", 0, out);
  EXPECT_EQ(r.send, "auth ClueCon\n\n");
  r = p.feed("Content-Type: command/reply\nReply-Text: +OK accepted\n\n", 0, out);
  EXPECT_EQ(r.send, "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n");
  r = p.feed("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n", 0,
             out);
  EXPECT_TRUE(r.ready);
  p.reset();
  (void)p.feed("Content-Type: auth/request\n\n", 0, out);
  r = p.feed("Content-Type: command/reply\nReply-Text: -ERR invalid\n\n", 0, out);
  EXPECT_TRUE(r.auth_failed);
  EXPECT_EQ(r.fatal, "auth failed: -ERR invalid");
}

// ---- call tracker -------------------------------------------------------------------------------

TEST(call_tracker, answer_transfer_and_hangup_become_agent_events) {
  call_tracker t(calls());
  call_output out;
  t.started({"k1", "+7 912 345-67-89", "Ivan", "100", true, {}}, 1000, out);
  ASSERT_EQ(out.contacts.size(), 1u);
  const core::contact c = out.contacts[0];
  EXPECT_EQ(c.id, core::contact_id("asterisk", "pbx:k1"));
  EXPECT_EQ(c.chan, core::channel::voice);
  EXPECT_EQ(c.conversation, "asterisk:pbx:k1");
  EXPECT_EQ(c.domain, "acme");
  EXPECT_EQ(c.received_at, 1000);
  t.answered("k1", {"", "101"}, 2000, out);
  t.answered("k1", {"102"}, 2001, out);  // a second answer (another leg) changes nothing
  t.transferred("k1", {"102"}, 3000, out);
  t.answered("k1", {"102"}, 3500, out);
  t.ended("k1", "Normal Clearing", 4000, out);
  ASSERT_EQ(out.agent_events.size(), 4u);
  const auto& e = out.agent_events;
  EXPECT_EQ(e[0].type, core::agent_event_type::accept);
  EXPECT_EQ(e[0].agent_id, "alice");
  EXPECT_EQ(e[0].contact_id, c.id);
  EXPECT_EQ(e[1].type, core::agent_event_type::transfer);
  EXPECT_EQ(e[1].target_agent, "bob");
  // After a transfer the router knows the call as "<contact>~<transfer event id>".
  EXPECT_EQ(e[2].type, core::agent_event_type::accept);
  EXPECT_EQ(e[2].agent_id, "bob");
  EXPECT_EQ(e[2].contact_id, c.id + "~" + e[1].id);
  EXPECT_EQ(e[3].type, core::agent_event_type::complete);
  EXPECT_EQ(e[3].disposition, "Normal Clearing");
  EXPECT_EQ(e[3].contact_id, e[2].contact_id);
  EXPECT_NE(e[0].id, e[2].id);
  EXPECT_EQ(out.contacts.size(), 1u);  // answered: not abandoned
}

TEST(call_tracker, transfer_to_an_extension_of_no_agent_completes_the_call) {
  call_tracker t(calls());
  call_output out;
  t.started({"k4", "+79123456789", "", "100", true, {}}, 0, out);
  t.answered("k4", {"101"}, 1, out);
  t.transferred("k4", {"8800"}, 2, out);  // voicemail
  t.ended("k4", "Normal Clearing", 3, out);
  ASSERT_EQ(out.agent_events.size(), 2u);
  EXPECT_EQ(out.agent_events[1].type, core::agent_event_type::complete);
  EXPECT_EQ(out.agent_events[1].agent_id, "alice");
  EXPECT_EQ(out.agent_events[1].disposition, "transferred to 8800");
  EXPECT_EQ(out.contacts.size(), 1u);  // not abandoned either
  for (const auto& e : out.agent_events) EXPECT_TRUE(core::decode_agent_event(core::encode(e)));
}

TEST(call_tracker, hangup_before_answer_is_an_abandoned_contact_and_replays_change_nothing) {
  call_tracker t(calls());
  call_output out;
  t.started({"k2", "anonymous", "", "100", true, {}}, 1000, out);
  ASSERT_EQ(out.contacts.size(), 1u);
  EXPECT_TRUE(out.contacts[0].customer.identities.empty());  // routed as an unknown caller
  EXPECT_EQ(out.contacts[0].attributes.at("caller_withheld"), "true");
  t.ended("k2", "NO_ANSWER", 5000, out);
  ASSERT_EQ(out.contacts.size(), 2u);
  const core::contact& a = out.contacts[1];
  EXPECT_EQ(a.kind, core::contact_kind::abandoned);
  EXPECT_EQ(a.attributes.at("contact_id"), out.contacts[0].id);
  EXPECT_EQ(a.conversation, out.contacts[0].conversation);
  EXPECT_NE(a.id, out.contacts[0].id);
  // The PBX re-sends the call after a reconnect: nothing new.
  call_output again;
  t.started({"k2", "anonymous", "", "100", true, {}}, 6000, again);
  t.ended("k2", "NO_ANSWER", 6000, again);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(t.active(), 0u);
}

TEST(call_tracker, withheld_caller_id_waits_then_routes_unknown) {
  call_settings s = calls();
  s.caller_id_wait = std::chrono::milliseconds(500);
  call_tracker t(s);
  call_output out;
  t.started({"k3", "<unknown>", "", "100", false, {}}, 1000, out);
  t.expire(1400, out);
  EXPECT_TRUE(out.contacts.empty());
  t.expire(1500, out);
  ASSERT_EQ(out.contacts.size(), 1u);
  EXPECT_TRUE(out.contacts[0].customer.identities.empty());
}

TEST(call_tracker, unmapped_extensions_and_the_call_bound) {
  call_settings s = calls();
  s.max_calls = 2;
  call_tracker t(s);
  call_output out;
  for (const char* k : {"a", "b", "c"}) t.started({k, "+79123456789", "", "", true, {}}, 0, out);
  EXPECT_EQ(t.active(), 2u);
  EXPECT_FALSE(t.tracking("a"));
  EXPECT_EQ(t.counts().dropped, 1u);
  t.answered("b", {"999"}, 1, out);
  EXPECT_TRUE(out.agent_events.empty());
  EXPECT_EQ(t.counts().unmapped_agents, 1u);
  s.extension_is_agent = true;
  call_tracker u(s);
  u.started({"x", "+79123456789", "", "", true, {}}, 0, out);
  u.answered("x", {"", "999"}, 1, out);
  ASSERT_EQ(out.agent_events.size(), 1u);
  EXPECT_EQ(out.agent_events[0].agent_id, "999");
}

// ---- CTI parsing --------------------------------------------------------------------------------

TEST(cti, form_and_json_shapes_and_errors) {
  core::http::request req;
  req.headers.add("Content-Type", "application/x-www-form-urlencoded");
  req.body = "event=newCall&callId=c-1&from=8+%28912%29+345-67-89&to=74951234567&direction=in";
  auto e = parse_cti(req);
  ASSERT_TRUE(e) << e.err().to_string();
  EXPECT_EQ(e->kind, cti_event::type::new_call);
  EXPECT_EQ(e->from, "8 (912) 345-67-89");
  core::http::request j;
  j.headers.add("Content-Type", "application/json");
  j.body = R"({"event":"answer","callId":12345,"user":"101"})";
  e = parse_cti(j);
  ASSERT_TRUE(e) << e.err().to_string();
  EXPECT_EQ(e->call_id, "12345");
  EXPECT_EQ(e->kind, cti_event::type::answer);
  j.body = R"({"event":"ring","callId":"1"})";
  EXPECT_EQ(parse_cti(j).err().to_string(),
            "event: unknown event 'ring' (newCall, answer, hangup, transfer)");
  j.body = R"({"event":"hangup"})";
  EXPECT_EQ(parse_cti(j).err().to_string(), "callId: is required");
  j.body = R"({"event":"answer","callId":"1"})";
  EXPECT_EQ(parse_cti(j).err().field, "user");
  j.body = "{not json";
  EXPECT_FALSE(parse_cti(j));
  core::http::request x;
  x.headers.add("Content-Type", "text/xml");
  x.body = "<call/>";
  EXPECT_EQ(parse_cti(x).err().field, "Content-Type");
}

}  // namespace
}  // namespace omni::connectors::telephony
