#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/events/codec.h"

namespace omni::core {
namespace {

using json = nlohmann::json;

contact sample_contact() {
  contact c;
  c.provider = "telegram";
  c.source_id = "update-1001";
  c.id = contact_id(c.provider, c.source_id);
  c.chan = channel::messenger;
  c.received_at = 1795405068123;  // 2026-11-23T03:37:48.123Z
  c.domain = "acme";
  c.conversation = "tg:chat:42";
  c.customer.identities = {{"telegram", "42"}, {"phone", "+79123456789"}};
  c.customer.display_name = "Иван Петров";
  c.customer.tier = "vip";
  c.to = "@acme_bot";
  c.subject = "Заказ";
  c.text = "Здравствуйте, где мой заказ? 📦";
  c.attachments = {{"photo.jpg", "image/jpeg", 1234, "file-id-1"}};
  c.language = "ru";
  c.attributes = {{"order", "A-17"}};
  return c;
}

TEST(contact_id, deterministic_and_distinct) {
  EXPECT_EQ(contact_id("telegram", "1"), contact_id("telegram", "1"));
  EXPECT_NE(contact_id("telegram", "1"), contact_id("telegram", "2"));
  EXPECT_NE(contact_id("telegram", "1"), contact_id("whatsapp", "1"));
  // The separator keeps ("ab","c") and ("a","bc") apart.
  EXPECT_NE(contact_id("ab", "c"), contact_id("a", "bc"));
  EXPECT_EQ(contact_id("x", "y").size(), 32u);
  // Pinned: a change to the id function would split dedupe across an upgrade.
  EXPECT_EQ(contact_id("imap", "<a@b>"), contact_id("imap", "<a@b>"));
  // The first 128 bits of SHA-256("telegram" 0x1f "1"), as hashlib computes them; the same on
  // another thread (each thread reuses its own digest context).
  EXPECT_EQ(contact_id("telegram", "1"), "1808fa41c5454ab01fabd8d40f44276f");
  std::string other;
  std::thread([&] { other = contact_id("imap", "<a@b>"); }).join();
  EXPECT_EQ(other, "c5d730068cde5f498fc42442f5600373");
}

TEST(timestamps, format_and_parse) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1795405068123), "2026-11-23T03:37:48.123Z");
  EXPECT_EQ(*parse_timestamp("2026-11-23T03:37:48.123Z"), 1795405068123);
  EXPECT_EQ(*parse_timestamp("2026-11-23T06:37:48.123+03:00"), 1795405068123);
  EXPECT_EQ(*parse_timestamp("2026-11-23T03:37:48Z"), 1795405068000);
  EXPECT_EQ(*parse_timestamp("2026-11-23T03:37:48.1234567Z"), 1795405068123);
  EXPECT_FALSE(parse_timestamp("2026-11-23"));
  EXPECT_FALSE(parse_timestamp("2026-13-23T03:37:48Z"));
  EXPECT_FALSE(parse_timestamp("2026-11-23T03:37:48"));
  EXPECT_FALSE(parse_timestamp("2026-11-23T03:37:48Zjunk"));
  for (timestamp_ms t : {0LL, 951782400000LL, 4102444799999LL, 1795405068123LL})
    EXPECT_EQ(*parse_timestamp(format_timestamp(t)), t);
}

TEST(utf8, validation) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("Привет 📦"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(valid_utf8("abc\xD0"));           // truncated
  EXPECT_FALSE(valid_utf8("\xFF"));
}

TEST(utf8, prefix_never_ends_inside_a_sequence) {
  const std::string text = "Заказ №5";  // 2-byte letters, a 3-byte №, ASCII
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 3), "З");  // 3 would split "а"
  EXPECT_EQ(utf8_prefix(text, 12), "Заказ ");
  EXPECT_EQ(utf8_prefix(text, 13), "Заказ ");  // № is 3 bytes
  EXPECT_EQ(utf8_prefix(text, 14), "Заказ №");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

TEST(split_attribute, pieces_fit_and_join_back_in_order) {
  std::string value;
  for (int i = 0; i < 300; ++i) value += "привет, " + std::to_string(i) + "; ";
  std::map<std::string, std::string> attrs{{"queue", "support"}, {"step", "stale"}};
  put_split_attribute(attrs, "step", value, 64);
  std::size_t pieces = 0;
  for (const auto& [k, v] : attrs) {
    if (k != "step" && !k.starts_with("step.")) continue;
    EXPECT_LE(v.size(), 64u) << k;
    EXPECT_TRUE(valid_utf8(v)) << k;
    ++pieces;
  }
  EXPECT_GT(pieces, 20u);  // past step.1009: the numbering keeps them in order
  EXPECT_EQ(joined_attribute(attrs, "step"), value);
  EXPECT_EQ(joined_attribute(attrs, "queue"), "support");
  EXPECT_EQ(joined_attribute(attrs, "missing"), "");
  // A value that fits is one attribute, no pieces.
  std::map<std::string, std::string> small;
  put_split_attribute(small, "stats", "[]");
  EXPECT_EQ(small, (std::map<std::string, std::string>{{"stats", "[]"}}));
}

TEST(contact_codec, round_trip) {
  contact c = sample_contact();
  std::string wire = encode(c);
  auto back = decode_contact(wire);
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(*back, c);
  json j = json::parse(wire);
  EXPECT_EQ(j["schema"], "omni.contact.v1");
  EXPECT_EQ(j["received_at"], "2026-11-23T03:37:48.123Z");
  EXPECT_EQ(j["channel"], "messenger");
}

TEST(contact_codec, abandoned_kind_round_trips) {
  contact c = sample_contact();
  c.kind = contact_kind::abandoned;
  auto back = decode_contact(encode(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, contact_kind::abandoned);
}

TEST(contact_codec, escaped_unicode_is_decoded) {
  contact c = sample_contact();
  json j = json::parse(encode(c));
  std::string wire = j.dump(-1, ' ', /*ensure_ascii=*/true);
  ASSERT_NE(wire.find("\\u0417"), std::string::npos);  // З
  auto back = decode_contact(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->text, c.text);
}

TEST(contact_codec, every_required_field_missing_is_named) {
  json full = json::parse(encode(sample_contact()));
  for (const char* field :
       {"id", "channel", "provider", "source_id", "received_at", "domain", "customer"}) {
    json j = full;
    j.erase(field);
    auto r = decode_contact(j.dump());
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.err().field, field);
    EXPECT_EQ(r.err().message, "is required");
  }
  json j = full;
  j["customer"]["identities"][1].erase("value");
  auto r = decode_contact(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "customer.identities[1].value");
}

TEST(contact_codec, wrong_types_are_named) {
  json full = json::parse(encode(sample_contact()));
  struct tc {
    const char* field;
    json value;
    const char* expect;
  };
  for (const auto& t : std::vector<tc>{{"id", 42, "must be a string, got number"},
                                       {"channel", "pigeon", "unknown value 'pigeon'"},
                                       {"received_at", 1795405068123, "must be an RFC 3339"},
                                       {"received_at", "yesterday", "is not an RFC 3339"},
                                       {"customer", "bob", "must be an object"},
                                       {"attachments", json::object(), "must be an array"},
                                       {"attributes", json::array(), "must be an object"},
                                       {"text", json::array(), "must be a string"}}) {
    json j = full;
    j[t.field] = t.value;
    auto r = decode_contact(j.dump());
    ASSERT_FALSE(r) << t.field;
    EXPECT_EQ(r.err().field, t.field);
    EXPECT_NE(r.err().message.find(t.expect), std::string::npos) << r.err().message;
  }
  json j = full;
  j["attributes"]["n"] = 5;
  auto r = decode_contact(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "attributes.n");
}

TEST(contact_codec, wrong_schema_and_not_json) {
  json j = json::parse(encode(sample_contact()));
  j["schema"] = "omni.contact.v2";
  auto r = decode_contact(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "schema");
  EXPECT_NE(r.err().message.find("expected 'omni.contact.v1'"), std::string::npos);

  auto bad = decode_contact("{\"schema\": \"omni.contact.v1\", ");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.err().message.find("malformed JSON"), std::string::npos);
  EXPECT_FALSE(decode_contact("[1,2]"));
  EXPECT_FALSE(decode_contact(""));
}

TEST(contact_codec, invalid_utf8_is_rejected) {
  std::string wire = encode(sample_contact());
  auto pos = wire.find("Здравствуйте");
  ASSERT_NE(pos, std::string::npos);
  wire[pos] = '\xFF';
  auto r = decode_contact(wire);
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message.find("malformed JSON"), std::string::npos);
}

TEST(contact_codec, huge_values_are_refused) {
  contact c = sample_contact();
  c.text.assign(codec_limits::max_text_bytes + 1, 'a');
  auto r = decode_contact(encode(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "text");
  EXPECT_NE(r.err().message.find("too long"), std::string::npos);

  c = sample_contact();
  c.id.assign(5000, 'x');
  r = decode_contact(encode(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "id");

  c = sample_contact();
  for (int i = 0; i < 300; ++i)
    c.customer.identities.push_back({"email", std::to_string(i) + "@x"});
  r = decode_contact(encode(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "customer.identities");

  std::string big(codec_limits::max_message_bytes + 10, ' ');
  r = decode_contact(big);
  ASSERT_FALSE(r);
  EXPECT_NE(r.err().message.find("too large"), std::string::npos);

  // Deep nesting does not crash the decoder.
  std::string deep(100000, '[');
  EXPECT_FALSE(decode_contact(deep));
}

TEST(contact_codec, unknown_fields_are_ignored_for_forward_compatibility) {
  json j = json::parse(encode(sample_contact()));
  j["future_field"] = {{"x", 1}};
  EXPECT_TRUE(decode_contact(j.dump()));
}

TEST(agent_event_codec, round_trip_and_rules) {
  agent_event e;
  e.id = "ev-1";
  e.type = agent_event_type::complete;
  e.domain = "acme";
  e.agent_id = "anna";
  e.at = 1795405068123;
  e.contact_id = "c1";
  e.disposition = "resolved";
  e.satisfaction = 5;
  e.skills = {{"billing", 7}};
  e.capacity = {{"chat", 3}};
  auto back = decode_agent_event(encode(e));
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(*back, e);

  json j = json::parse(encode(e));
  j.erase("contact_id");
  auto r = decode_agent_event(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "contact_id");

  j = json::parse(encode(e));
  j["satisfaction"] = 9;
  r = decode_agent_event(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "satisfaction");

  j = json::parse(encode(e));
  j["skills"]["billing"] = 11;
  r = decode_agent_event(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "skills.billing");

  j = json::parse(encode(e));
  j["type"] = "transfer";
  r = decode_agent_event(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "target_queue");

  j = json::parse(encode(e));
  j["type"] = "presence";
  r = decode_agent_event(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "presence");
}

TEST(assignment_codec, round_trip) {
  assignment a;
  a.id = "acme-17";
  a.type = "offer";
  a.domain = "acme";
  a.seq = 17;
  a.at = 1795405068123;
  a.contact_id = "c1";
  a.agent_id = "anna";
  a.queue = "billing";
  a.priority = 5;
  a.deadline = 1795405088123;
  a.reason = {"vip-billing", "longest_idle", "", 4, true, "anna handled this customer 2 h ago"};
  a.attributes = {{"k", "v"}};
  a.contact = offer_details{"cust-1",
                            "Иван Петров",
                            "email",
                            "imap",
                            "imap:acme:42",
                            "Заказ",
                            "Где мой заказ?",
                            "Где мой заказ? Уже неделя.",
                            true,
                            identity{"email", "ivan@example.ru"},
                            R"([{"channel":"chat","contact_id":"c0","subject":"Возврат"}])"};
  auto back = decode_assignment(encode(a));
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(*back, a);
  json j = json::parse(encode(a));
  EXPECT_TRUE(j["contact"]["history"].is_array());  // a JSON array, not a string holding one
  EXPECT_EQ(j["contact"]["recipient"]["kind"], "email");
  j["reason"]["candidates"] = "four";
  auto r = decode_assignment(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "reason.candidates");
  j = json::parse(encode(a));
  j["contact"]["history"] = "[]";
  r = decode_assignment(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "contact.history");
}

TEST(outbound_codec, round_trip) {
  outbound o;
  o.id = "out-1";
  o.kind = outbound_kind::reply;
  o.domain = "acme";
  o.conversation = "<root@mail>";
  o.contact_id = "c1";
  o.chan = channel::email;
  o.provider = "imap";
  o.recipient = {"email", "ivan@example.ru"};
  o.agent_id = "anna";
  o.at = 1795405068123;
  o.subject = "Re: Заказ";
  o.text = "Ваш заказ в пути.";
  o.in_reply_to = "<m2@mail>";
  o.references = {"<root@mail>", "<m2@mail>"};
  auto back = decode_outbound(encode(o));
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(*back, o);
  json j = json::parse(encode(o));
  j["references"][1] = 7;
  auto r = decode_outbound(j.dump());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().field, "references[1]");
}

}  // namespace
}  // namespace omni::core

// The published JSON Schemas and the decoders agree on what is required.
namespace omni::core {
namespace {

json load_schema(const std::string& name) {
  const char* dir = std::getenv("OMNI_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/docs/schemas/" + name + ".json");
  EXPECT_TRUE(in.good()) << name;
  return json::parse(in);
}

template <typename Decode>
void check_required_fields(const std::string& schema_name, const std::string& sample,
                           Decode decode) {
  json schema = load_schema(schema_name);
  json full = json::parse(sample);
  ASSERT_TRUE(decode(full.dump())) << schema_name;
  std::set<std::string> required(schema["required"].begin(), schema["required"].end());
  for (const auto& [field, _] : schema["properties"].items()) {
    if (!full.contains(field)) continue;
    json j = full;
    j.erase(field);
    bool decoded = static_cast<bool>(decode(j.dump()));
    EXPECT_EQ(decoded, required.count(field) == 0) << schema_name << "." << field;
  }
  for (const auto& field : required) EXPECT_TRUE(schema["properties"].contains(field)) << field;
}

TEST(schemas, required_fields_match_the_decoders) {
  check_required_fields("omni.contact.v1", encode(sample_contact()),
                        [](const std::string& s) { return decode_contact(s); });
  agent_event e{"e1", agent_event_type::login, "acme", "anna", 1};
  check_required_fields("omni.agent_event.v1", encode(e),
                        [](const std::string& s) { return decode_agent_event(s); });
  assignment a;
  a.id = "a1";
  a.type = "offer";
  a.domain = "acme";
  a.seq = 1;
  a.at = 1;
  a.contact_id = "c";
  check_required_fields("omni.assignment.v1", encode(a),
                        [](const std::string& s) { return decode_assignment(s); });
  outbound o;
  o.id = "o1";
  o.domain = "acme";
  o.conversation = "c";
  o.at = 1;
  o.text = "hi";
  check_required_fields("omni.outbound.v1", encode(o),
                        [](const std::string& s) { return decode_outbound(s); });
}

}  // namespace
}  // namespace omni::core

namespace omni::core {
namespace {

TEST(clamp, oversized_mapping_still_decodes_and_says_what_was_cut) {
  contact c = sample_contact();
  c.customer.display_name = std::string(2000, 'x') + "Ж";
  c.text = std::string(codec_limits::max_text_bytes - 1, 'a') + "Жж";  // cut inside a 2-byte char
  for (int i = 0; i < 300; ++i) c.attachments.push_back({"f", "t", 1, ""});
  clamp_to_limits(c);
  EXPECT_TRUE(valid_utf8(c.text));
  EXPECT_LE(c.text.size(), codec_limits::max_text_bytes);
  EXPECT_EQ(c.attachments.size(), codec_limits::max_items);
  EXPECT_EQ(c.attributes.at("truncated"), "field,text,attachments");
  auto back = decode_contact(encode(c));
  ASSERT_TRUE(back) << back.err().to_string();

  contact small = sample_contact();
  clamp_to_limits(small);
  EXPECT_EQ(small, sample_contact());  // nothing to cut: unchanged
}

TEST(clamp, within_limits_says_whether_clamping_would_change_anything) {
  std::vector<std::function<void(contact&)>> changes = {
      [](contact&) {},
      [](contact& c) { c.id = std::string(codec_limits::max_short_bytes, 'i'); },
      [](contact& c) { c.id = std::string(codec_limits::max_short_bytes + 1, 'i'); },
      [](contact& c) { c.customer.tier = std::string(codec_limits::max_short_bytes + 1, 't'); },
      [](contact& c) { c.subject = std::string(codec_limits::max_subject_bytes, 's'); },
      [](contact& c) { c.subject = std::string(codec_limits::max_subject_bytes + 1, 's'); },
      [](contact& c) { c.text = std::string(codec_limits::max_text_bytes, 'x'); },
      [](contact& c) { c.text = std::string(codec_limits::max_text_bytes + 1, 'x'); },
      [](contact& c) { c.customer.identities.resize(codec_limits::max_items); },
      [](contact& c) { c.customer.identities.resize(codec_limits::max_items + 1); },
      [](contact& c) {
        c.customer.identities[1].value = std::string(codec_limits::max_short_bytes + 1, 'v');
      },
      [](contact& c) { c.attachments.resize(codec_limits::max_items + 1); },
      [](contact& c) { c.attachments[0].ref = std::string(codec_limits::max_subject_bytes, 'r'); },
      [](contact& c) {
        c.attachments[0].ref = std::string(codec_limits::max_subject_bytes + 1, 'r');
      },
      [](contact& c) {
        c.attachments[0].content_type = std::string(codec_limits::max_short_bytes + 1, 'c');
      },
      [](contact& c) {
        for (std::size_t i = c.attributes.size(); i < codec_limits::max_items - 1; ++i)
          c.attributes["a" + std::to_string(i)] = "v";
      },
      [](contact& c) {
        for (std::size_t i = c.attributes.size(); i < codec_limits::max_items; ++i)
          c.attributes["a" + std::to_string(i)] = "v";
      },
      [](contact& c) { c.attributes[std::string(codec_limits::max_short_bytes + 1, 'k')] = "v"; },
      [](contact& c) { c.attributes["k"] = std::string(codec_limits::max_subject_bytes + 1, 'v'); },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    contact c = sample_contact();
    changes[i](c);
    contact clamped = c;
    clamp_to_limits(clamped);
    EXPECT_EQ(within_limits(c), clamped == c) << "change #" << i;
  }
  EXPECT_TRUE(within_limits(sample_contact()));
}

// Every field within its own limit, the whole still over what Kafka takes (1,000,000 bytes by
// default): the clamp cuts the text first, then the largest attributes, until it fits.
TEST(clamp, a_contact_whose_fields_fit_but_whose_record_does_not_is_cut_to_fit) {
  contact c = sample_contact();
  c.text = std::string(codec_limits::max_text_bytes, 'x');
  ASSERT_GT(encode(c).size(), codec_limits::max_record_bytes);
  EXPECT_FALSE(within_limits(c));
  clamp_to_limits(c);
  const std::string record = encode(c);
  EXPECT_LE(record.size(), codec_limits::max_record_bytes);
  EXPECT_GT(record.size(), codec_limits::max_record_bytes - 64);  // cut by what was over, no more
  EXPECT_EQ(c.attributes.at("truncated"), "text");
  EXPECT_TRUE(within_limits(c));
  EXPECT_EQ(c.text, std::string(c.text.size(), 'x'));

  // Control characters escape to six bytes each; attributes add 255 x 8 KiB.
  contact worst = sample_contact();
  worst.text = std::string(codec_limits::max_text_bytes - 1, '\x01') + "Ж";
  for (std::size_t i = worst.attributes.size(); i < codec_limits::max_items - 1; ++i)
    worst.attributes["a" + std::to_string(i)] = std::string(codec_limits::max_subject_bytes, 'v');
  clamp_to_limits(worst);
  EXPECT_LE(encode(worst).size(), codec_limits::max_record_bytes);
  EXPECT_TRUE(within_limits(worst));
  EXPECT_TRUE(worst.text.empty());
  EXPECT_EQ(worst.attributes.at("truncated"), "text,attributes");
  EXPECT_LT(worst.attributes.size(), codec_limits::max_items - 1);
  auto back = decode_contact(encode(worst));
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(*back, worst);
}

}  // namespace
}  // namespace omni::core

// The streaming encoders against the nlohmann-tree encoders they replaced: same bytes for every
// event type, including escapes, control characters, Cyrillic, emoji, long strings and invalid
// UTF-8 (replaced by U+FFFD at the same places); decode(encode(x)) == x for valid text.
namespace omni::core {
namespace {

namespace reference {  // the encoders as they were before the streaming writer

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
void put_if(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
template <typename Map>
void put_map(json& j, const char* key, const Map& m) {
  if (!m.empty()) j[key] = m;
}

std::string encode(const contact& c) {
  json j;
  j["schema"] = contact_schema;
  j["id"] = c.id;
  if (c.kind != contact_kind::message) j["kind"] = to_string(c.kind);
  j["channel"] = to_string(c.chan);
  j["provider"] = c.provider;
  j["source_id"] = c.source_id;
  j["received_at"] = format_timestamp(c.received_at);
  j["domain"] = c.domain;
  put_if(j, "conversation", c.conversation);
  json ids = json::array();
  for (const auto& i : c.customer.identities) ids.push_back({{"kind", i.kind}, {"value", i.value}});
  json cust{{"identities", ids}};
  put_if(cust, "display_name", c.customer.display_name);
  put_if(cust, "tier", c.customer.tier);
  j["customer"] = std::move(cust);
  put_if(j, "to", c.to);
  put_if(j, "subject", c.subject);
  j["text"] = c.text;
  if (!c.attachments.empty()) {
    json atts = json::array();
    for (const auto& a : c.attachments) {
      json aj{{"name", a.name}, {"content_type", a.content_type}};
      if (a.size >= 0) aj["size"] = a.size;
      put_if(aj, "ref", a.ref);
      atts.push_back(std::move(aj));
    }
    j["attachments"] = std::move(atts);
  }
  put_if(j, "language", c.language);
  put_map(j, "attributes", c.attributes);
  return dump(j);
}

std::string encode(const agent_event& e) {
  json j;
  j["schema"] = agent_event_schema;
  j["id"] = e.id;
  j["type"] = to_string(e.type);
  j["domain"] = e.domain;
  j["agent_id"] = e.agent_id;
  j["at"] = format_timestamp(e.at);
  put_if(j, "presence", e.presence);
  put_if(j, "contact_id", e.contact_id);
  put_if(j, "reason", e.reason);
  put_if(j, "disposition", e.disposition);
  if (e.satisfaction) j["satisfaction"] = *e.satisfaction;
  put_if(j, "target_queue", e.target_queue);
  put_if(j, "target_agent", e.target_agent);
  put_map(j, "skills", e.skills);
  put_map(j, "capacity", e.capacity);
  put_map(j, "attributes", e.attributes);
  return dump(j);
}

std::string encode(const assignment& a) {
  json j;
  j["schema"] = assignment_schema;
  j["id"] = a.id;
  j["type"] = a.type;
  j["domain"] = a.domain;
  j["seq"] = a.seq;
  j["at"] = format_timestamp(a.at);
  put_if(j, "contact_id", a.contact_id);
  put_if(j, "agent_id", a.agent_id);
  put_if(j, "queue", a.queue);
  if (a.priority) j["priority"] = *a.priority;
  if (a.deadline) j["deadline"] = format_timestamp(*a.deadline);
  json reason = json::object();
  put_if(reason, "rule", a.reason.rule);
  put_if(reason, "strategy", a.reason.strategy);
  put_if(reason, "escalation_step", a.reason.escalation_step);
  reason["candidates"] = a.reason.candidates;
  reason["affinity"] = a.reason.affinity;
  put_if(reason, "text", a.reason.text);
  j["reason"] = std::move(reason);
  if (const auto& c = a.contact) {
    json d = json::object();
    put_if(d, "customer_id", c->customer_id);
    put_if(d, "display_name", c->display_name);
    put_if(d, "channel", c->channel);
    put_if(d, "provider", c->provider);
    put_if(d, "conversation", c->conversation);
    put_if(d, "subject", c->subject);
    put_if(d, "snippet", c->snippet);
    put_if(d, "text", c->text);
    if (c->text_truncated) d["text_truncated"] = true;
    if (!c->recipient.kind.empty())
      d["recipient"] = {{"kind", c->recipient.kind}, {"value", c->recipient.value}};
    d["history"] = json::parse(c->history);
    j["contact"] = std::move(d);
  }
  put_map(j, "attributes", a.attributes);
  return dump(j);
}

std::string encode(const outbound& o) {
  json j;
  j["schema"] = outbound_schema;
  j["id"] = o.id;
  j["kind"] = to_string(o.kind);
  j["domain"] = o.domain;
  j["conversation"] = o.conversation;
  put_if(j, "contact_id", o.contact_id);
  j["channel"] = to_string(o.chan);
  put_if(j, "provider", o.provider);
  if (!o.recipient.kind.empty())
    j["recipient"] = {{"kind", o.recipient.kind}, {"value", o.recipient.value}};
  put_if(j, "agent_id", o.agent_id);
  j["at"] = format_timestamp(o.at);
  put_if(j, "subject", o.subject);
  put_if(j, "text", o.text);
  put_if(j, "in_reply_to", o.in_reply_to);
  if (!o.references.empty()) j["references"] = o.references;
  put_map(j, "attributes", o.attributes);
  return dump(j);
}

}  // namespace reference

// Strings that are valid UTF-8 but need care: every control character, quotes, backslashes,
// DEL, Cyrillic, a 3-byte and a 4-byte character, the largest code point, a long string.
std::vector<std::string> tricky_valid_strings() {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  std::string long_text;
  for (int i = 0; i < 1000; ++i) long_text += "Строка \"" + std::to_string(i) + "\"\\\n\t📦 ";
  return {"",
          "plain",
          controls,
          "quote \" backslash \\ slash / del \x7F",
          "Здравствуйте, где мой заказ? 📦",
          "№ € ✓ 中文 \xF4\x8F\xBF\xBF",
          std::string("nul\0inside", 10),
          "\b\f\n\r\t\x01\x1F",
          long_text,
          std::string(20000, 'x')};
}

// Invalid UTF-8: lone continuation bytes, overlongs, surrogates, beyond U+10FFFF, sequences cut
// short in the middle and at the end of the string, invalid leads.
std::vector<std::string> invalid_utf8_strings() {
  return {"\x80",
          "a\xBF"
          "b",
          "\xC0\xAF",
          "\xC1\x81x",
          "\xE0\x80\x80",
          "\xE0\x9F\xBF",
          "\xED\xA0\x80",
          "\xED\xBF\xBFz",
          "\xF0\x80\x80\x80",
          "\xF0\x8F\xBF\xBF",
          "\xF4\x90\x80\x80",
          "\xF5\x80\x80\x80",
          "\xFF\xFE",
          "abc\xD0",
          "abc\xE2\x82",
          "\xF0\x9F\x93",
          "\xE2\x82"
          "A",
          "\xF0\x9F"
          "\xD0\x96",
          "Ж\xD0"
          "Ж",
          "\xC3\x28",
          "\xE2\x28\xA1",
          "\xF0\x28\x8C\xBC",
          "\xF0\x90\x28\xBC",
          "\xF8\x88\x80\x80\x80"};
}

contact contact_with(const std::string& s, std::uint32_t salt) {
  contact c = sample_contact();
  c.id = s;
  c.kind = salt % 2 ? contact_kind::abandoned : contact_kind::message;
  c.chan = static_cast<channel>(salt % 5);
  c.received_at = 1795405068123 + salt * 7919;
  c.conversation = salt % 3 ? s : "";
  c.customer.identities = {{"telegram", s}, {s, "+79123456789"}};
  if (salt % 4 == 0) c.customer.identities.clear();
  c.customer.display_name = s;
  c.customer.tier = salt % 2 ? s : "";
  c.to = s;
  c.subject = s;
  c.text = s;
  c.attachments = {{s, "image/jpeg", salt % 3 ? 1234 : -1, salt % 2 ? s : ""}};
  if (salt % 5 == 0) c.attachments.clear();
  c.language = s;
  c.attributes = {{"order", s}, {s, "v"}, {"z" + s, s}};
  return c;
}

agent_event agent_event_with(const std::string& s, std::uint32_t salt) {
  agent_event e{s, static_cast<agent_event_type>(salt % 10), s, s, 1795405068123 + salt};
  e.presence = salt % 2 ? s : "";
  e.contact_id = s;
  e.reason = s;
  e.disposition = salt % 3 ? s : "";
  if (salt % 2) e.satisfaction = static_cast<int>(salt % 5) + 1;
  e.target_queue = s;
  e.target_agent = salt % 2 ? s : "";
  if (salt % 3) e.skills = {{s, 7}, {"billing", 10}};
  if (salt % 2) e.capacity = {{"chat", 3}, {s, 0}};
  e.attributes = {{s, s}};
  return e;
}

assignment assignment_with(const std::string& s, std::uint32_t salt) {
  assignment a;
  a.id = s;
  a.type = s.empty() ? "offer" : s;
  a.domain = s;
  a.seq = (static_cast<std::int64_t>(salt) << 33) - 5;
  a.at = 1795405068123 - salt;
  a.contact_id = salt % 2 ? s : "";
  a.agent_id = s;
  a.queue = salt % 3 ? s : "";
  if (salt % 2) a.priority = -static_cast<int>(salt);
  if (salt % 3) a.deadline = 1795405088123 + salt;
  a.reason = {s, salt % 2 ? s : "", s, static_cast<int>(salt), salt % 2 == 1, s};
  if (salt % 2) a.attributes = {{s, s}, {"k", "v"}};
  if (salt % 4 != 2)
    a.contact = offer_details{s,
                              s,
                              salt % 3 ? s : "",
                              s,
                              s,
                              s,
                              s,
                              s,
                              salt % 2 == 0,
                              salt % 3 ? identity{s, s} : identity{},
                              salt % 5 ? "[]" : R"([{"channel":"email","contact_id":"x"}])"};
  return a;
}

outbound outbound_with(const std::string& s, std::uint32_t salt) {
  outbound o;
  o.id = s;
  o.kind = static_cast<outbound_kind>(salt % 5);
  o.domain = s;
  o.conversation = s;
  o.contact_id = salt % 2 ? s : "";
  o.chan = static_cast<channel>(salt % 5);
  o.provider = s;
  if (salt % 3) o.recipient = {"email", s};
  o.agent_id = s;
  o.at = 1795405068123 + salt;
  o.subject = s;
  o.text = salt % 2 ? s : "";
  o.in_reply_to = s;
  if (salt % 2) o.references = {s, "<m2@mail>", s};
  o.attributes = {{s, s}};
  return o;
}

TEST(streaming_encoder, same_bytes_as_the_tree_encoder_for_valid_text) {
  std::uint32_t salt = 0;
  for (const auto& s : tricky_valid_strings()) {
    const int variants = s.size() > 1000 ? 2 : 6;  // long strings: enough to cover, not too slow
    for (int variant = 0; variant < variants; ++variant, ++salt) {
      SCOPED_TRACE("string of " + std::to_string(s.size()) + " bytes, variant " +
                   std::to_string(variant));
      contact c = contact_with(s, salt);
      EXPECT_EQ(encode(c), reference::encode(c));
      agent_event e = agent_event_with(s, salt);
      EXPECT_EQ(encode(e), reference::encode(e));
      assignment a = assignment_with(s, salt);
      EXPECT_EQ(encode(a), reference::encode(a));
      outbound o = outbound_with(s, salt);
      EXPECT_EQ(encode(o), reference::encode(o));
    }
  }
}

TEST(streaming_encoder, same_bytes_as_the_tree_encoder_for_invalid_utf8) {
  std::uint32_t salt = 0;
  for (const auto& bad : invalid_utf8_strings()) {
    for (const std::string& s : {bad, "x" + bad + "\"y", bad + bad, "Ж" + bad + "\n"}) {
      ++salt;
      SCOPED_TRACE("invalid string #" + std::to_string(salt));
      contact c = contact_with(s, salt);
      std::string wire = encode(c);
      EXPECT_EQ(wire, reference::encode(c));
      EXPECT_TRUE(valid_utf8(wire));
      EXPECT_TRUE(decode_contact(wire)) << decode_contact(wire).err().to_string();
      agent_event e = agent_event_with(s, salt);
      EXPECT_EQ(encode(e), reference::encode(e));
      assignment a = assignment_with(s, salt);
      EXPECT_EQ(encode(a), reference::encode(a));
      outbound o = outbound_with(s, salt);
      EXPECT_EQ(encode(o), reference::encode(o));
    }
  }
}

TEST(streaming_encoder, every_byte_pair_matches_the_tree_encoder) {
  // All two-byte strings after a lead byte: every way a sequence can start, break or end.
  // One string per lead byte: lead, next, a stray continuation byte, 'a' (back in step), for
  // every next byte; the lead once more at the very end (cut short).
  for (int lead = 0x80; lead < 0x100; ++lead) {
    outbound o;
    for (int next = 0; next < 0x100; ++next)
      o.text += std::string{static_cast<char>(lead), static_cast<char>(next), '\x80', 'a'};
    o.text += static_cast<char>(lead);
    ASSERT_EQ(encode(o), reference::encode(o)) << std::hex << lead;
  }
}

TEST(streaming_encoder, every_byte_at_every_place_of_an_ascii_run_matches_the_tree_encoder) {
  // Plain ASCII is skipped eight bytes at a time: each byte value, at each offset of a run longer
  // than two such steps, must still be seen (escaped, kept or replaced) exactly as byte by byte.
  for (int b = 0; b < 0x100; ++b) {
    outbound o;
    for (std::size_t at = 0; at < 19; ++at) {
      std::string s(19, 'q');
      s[at] = static_cast<char>(b);
      o.text += s;
    }
    ASSERT_EQ(encode(o), reference::encode(o)) << std::hex << b;
  }
}

TEST(streaming_encoder, decode_of_encode_is_the_same_event) {
  std::uint32_t salt = 0;
  for (const auto& s : tricky_valid_strings()) {
    if (s.empty() || s.size() > codec_limits::max_short_bytes) continue;  // required / short fields
    for (int variant = 0; variant < 6; ++variant, ++salt) {
      SCOPED_TRACE("string #" + std::to_string(salt / 6) + " variant " + std::to_string(variant));
      contact c = contact_with(s, salt);
      auto cb = decode_contact(encode(c));
      ASSERT_TRUE(cb) << cb.err().to_string();
      EXPECT_EQ(*cb, c);
      agent_event e = agent_event_with(s, salt);
      if (e.type == agent_event_type::presence && e.presence.empty()) e.presence = "away";
      auto eb = decode_agent_event(encode(e));
      ASSERT_TRUE(eb) << eb.err().to_string();
      EXPECT_EQ(*eb, e);
      assignment a = assignment_with(s, salt);
      auto ab = decode_assignment(encode(a));
      ASSERT_TRUE(ab) << ab.err().to_string();
      EXPECT_EQ(*ab, a);
      outbound o = outbound_with(s, salt);
      if (!o.recipient.kind.empty() && o.recipient.value.empty()) o.recipient.value = "v";
      auto ob = decode_outbound(encode(o));
      ASSERT_TRUE(ob) << ob.err().to_string();
      EXPECT_EQ(*ob, o);
    }
  }
  // A long text (past the short-field limit) survives whole.
  contact c = sample_contact();
  c.text = tricky_valid_strings()[8];
  auto back = decode_contact(encode(c));
  ASSERT_TRUE(back) << back.err().to_string();
  EXPECT_EQ(back->text, c.text);
}

TEST(streaming_encoder, timestamps_outside_four_digit_years) {
  for (timestamp_ms t : {-1LL, -62135596800001LL, 253402300800000LL, 0LL, 253402300799999LL}) {
    agent_event e{"e", agent_event_type::login, "d", "a", t};
    EXPECT_EQ(encode(e), reference::encode(e)) << t;
  }
}

}  // namespace
}  // namespace omni::core
