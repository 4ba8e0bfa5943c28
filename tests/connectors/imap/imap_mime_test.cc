// MIME -> contact against fixture messages (tests/connectors/imap/fixtures/*.eml): charsets,
// encoded words, RFC 2231 parameters, alternatives, HTML, attachments, threading, auto-replies.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "connectors/imap/mime.h"
#include "core/events/codec.h"

namespace omni::connectors::imap {
namespace {

std::string fixture(const std::string& name) {
  const char* src = std::getenv("OMNI_SOURCE_DIR");
  std::string dir = std::string(src ? src : ".") + "/tests/connectors/imap/fixtures/";
  std::ifstream in(dir + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << dir + name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mail parse(const std::string& name, const mime_settings& s = {}) {
  auto m = parse_mail(fixture(name), s);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.err().to_string());
  return m.ok() ? *m : mail{};
}

TEST(ImapMime, Koi8rBodyAndEncodedWordSubject) {
  mail m = parse("koi8r.eml");
  EXPECT_EQ(m.subject, "Заказ 123 не пришёл");
  EXPECT_EQ(m.from_name, "Иван Петров");
  EXPECT_EQ(m.from_address, "ivan.petrov@example.ru");  // lower-cased
  EXPECT_EQ(m.text, "Здравствуйте!\nМой заказ 123 так и не пришёл. Что делать?\nИван");
  EXPECT_EQ(m.message_id, "koi8-1@example.ru");
  EXPECT_EQ(m.date, 1795414500000);  // 2026-11-23T06:15:00Z
  EXPECT_TRUE(m.auto_reply.empty());
  EXPECT_EQ(m.thread_root(), "koi8-1@example.ru");
}

// Every charset and transfer encoding gives LF line ends (KOI8-R 8bit text used to keep CRLF).
TEST(ImapMime, EveryFixtureTextHasLfLineEnds) {
  for (const char* name :
       {"alternative.eml", "attachments.eml", "cp1251.eml", "html_only.eml", "iso88595.eml",
        "koi8r.eml", "no_message_id.eml", "reply.eml", "undeclared_8bit.eml"}) {
    mail m = parse(name);
    EXPECT_FALSE(m.text.empty()) << name;
    EXPECT_EQ(m.text.find('\r'), std::string::npos) << name;
  }
}

TEST(ImapMime, Windows1251QuotedPrintable) {
  mail m = parse("cp1251.eml");
  EXPECT_EQ(m.subject, "Возврат товара №5");
  EXPECT_EQ(m.from_name, "Мария");
  EXPECT_EQ(m.text, "Хочу вернуть чайник, он не греет.");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0], "support@shop.example");
}

TEST(ImapMime, Iso88595Base64) {
  mail m = parse("iso88595.eml");
  EXPECT_EQ(m.subject, "Счёт");
  EXPECT_EQ(m.text, "Пришлите счёт, пожалуйста.");
}

TEST(ImapMime, UndeclaredEightBitUsesFallbackCharsets) {
  mail m = parse("undeclared_8bit.eml");  // default fallbacks: windows-1251 first
  EXPECT_EQ(m.subject, "Где мой заказ?");
  EXPECT_EQ(m.from_name, "Пётр");
  EXPECT_EQ(m.text, "Жду уже неделю.");

  mime_settings koi_first;
  koi_first.fallback_charsets = {"koi8-r"};
  mail k = parse("undeclared_8bit.eml", koi_first);
  EXPECT_NE(k.subject, "Где мой заказ?");  // the configured order decides
  EXPECT_TRUE(core::valid_utf8(k.subject));
  EXPECT_TRUE(core::valid_utf8(k.text));
}

TEST(ImapMime, UnknownCharsetLabelFallsBack) {
  mime_settings s;
  s.fallback_charsets = {"koi8-r"};
  mail m = parse("no_message_id.eml", s);
  EXPECT_EQ(m.text, "Текст");
  EXPECT_TRUE(m.message_id.empty());
}

TEST(ImapMime, AlternativePrefersPlain) {
  mail m = parse("alternative.eml");
  EXPECT_EQ(m.subject, "Café order");
  EXPECT_EQ(m.text, "Plain version: café order #7.");
  EXPECT_FALSE(m.text_from_html);
  EXPECT_TRUE(m.attachments.empty());  // the HTML alternative is not an attachment
}

TEST(ImapMime, HtmlOnlyBecomesText) {
  mail m = parse("html_only.eml");
  EXPECT_TRUE(m.text_from_html);
  EXPECT_EQ(m.text,
            "Hello & welcome,\nline\u00a0two\nline three \u2014 <ok>\n- one\n- two\nПривет");
  EXPECT_EQ(m.text.find("alert"), std::string::npos);
  EXPECT_EQ(m.text.find("color"), std::string::npos);
}

TEST(ImapMime, AttachmentsAsDescriptors) {
  mail m = parse("attachments.eml");
  EXPECT_EQ(m.text, "See the invoice attached.");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].name, "Счёт №1.pdf");  // RFC 2231
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(m.attachments[0].size, 52);  // decoded bytes, not the base64 text
  EXPECT_EQ(m.attachments[0].ref, "2");
  EXPECT_EQ(m.attachments[1].name, "фото.png");  // RFC 2047 in a parameter
  EXPECT_EQ(m.attachments[1].content_type, "image/png");
  EXPECT_EQ(m.attachments[1].size, 16);
  EXPECT_EQ(m.attachments[1].ref, "3");
}

TEST(ImapMime, ReplyJoinsTheThreadRoot) {
  mail m = parse("reply.eml");
  EXPECT_EQ(m.in_reply_to, "agent-reply-1@shop.example");
  ASSERT_EQ(m.references.size(), 2u);
  EXPECT_EQ(m.thread_root(), "koi8-1@example.ru");
  mail first = parse("koi8r.eml");
  mail_origin o{"support", "INBOX", 7, 42, "support@shop.example", "shop", 1000};
  EXPECT_EQ(to_contact(m, o).conversation, to_contact(first, o).conversation);
  EXPECT_EQ(m.subject, "Re: Заказ");
}

TEST(ImapMime, AutoRepliesAndBouncesAreRecognized) {
  EXPECT_EQ(parse("autoreply.eml").auto_reply, "Auto-Submitted: auto-replied");
  EXPECT_EQ(parse("bounce.eml").auto_reply, "bounce from mailer-daemon@mx.example.com");
  std::string report = fixture("bounce.eml");
  auto pos = report.find("MAILER-DAEMON@mx");
  report.replace(pos, 16, "relay@mx");
  auto m = parse_mail(report, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->auto_reply, "delivery report");
  EXPECT_EQ(parse("koi8r.eml").auto_reply, "");
  auto precedence = parse_mail("From: a@b.c\r\nPrecedence: bulk\r\n\r\nhi\r\n", {});
  ASSERT_TRUE(precedence.ok());
  EXPECT_EQ(precedence->auto_reply, "Precedence: bulk");
  auto human = parse_mail("From: a@b.c\r\nAuto-Submitted: no\r\n\r\nhi\r\n", {});
  ASSERT_TRUE(human.ok());
  EXPECT_EQ(human->auto_reply, "");
}

TEST(ImapMime, NestingCap) {
  std::string raw = "From: a@b.c\r\nMIME-Version: 1.0\r\n";
  const int depth = 40;
  for (int i = 0; i < depth; ++i)
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  raw += "Content-Type: text/plain\r\n\r\ndeep text\r\n";
  for (int i = depth - 1; i >= 0; --i) raw += "--b" + std::to_string(i) + "--\r\n";
  mime_settings s;
  s.max_depth = 8;
  auto m = parse_mail(raw, s);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->nesting_truncated);
  EXPECT_EQ(m->text, "");
  s.max_depth = 64;
  auto deep = parse_mail(raw, s);
  ASSERT_TRUE(deep.ok());
  EXPECT_FALSE(deep->nesting_truncated);
  EXPECT_EQ(deep->text, "deep text");
}

// 100,000 nested multiparts (6 MB): GMime would recurse once per level and compare every line
// with every open boundary; the message is routed on its header with a note instead, at once.
TEST(ImapMime, ThousandsOfNestedMultipartsAreRoutedOnTheHeaderAlone) {
  std::string raw =
      "From: a@b.c\r\nSubject: deep\r\nMessage-ID: <deep-1@b.c>\r\nMIME-Version: 1.0\r\n";
  const int depth = 100'000;
  for (int i = 0; i < depth; ++i)
    raw += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  raw += "Content-Type: text/plain\r\n\r\ndeep text\r\n";
  const auto started = std::chrono::steady_clock::now();
  auto m = parse_mail(raw, {});
  ASSERT_TRUE(m.ok()) << m.err().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_TRUE(m->nesting_truncated);
  EXPECT_EQ(m->subject, "deep");
  EXPECT_EQ(m->message_id, "deep-1@b.c");
  EXPECT_NE(m->text.find("too complex"), std::string::npos) << m->text;
  // The 40-level message of NestingCap is still parsed as before (under the boundary limit).
}

TEST(ImapMime, TooLargeKeepsHeadersAndSaysSo) {
  std::string raw = fixture("koi8r.eml");
  std::string header = raw.substr(0, raw.find("\r\n\r\n") + 4);
  auto m = parse_header_only(header, 50 << 20, 10 << 20, {});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->too_large);
  EXPECT_EQ(m->subject, "Заказ 123 не пришёл");
  EXPECT_NE(m->text.find("too large"), std::string::npos);
  mail_origin o{"support", "INBOX", 7, 42, "", "shop", 1000};
  core::contact c = to_contact(*m, o);
  EXPECT_EQ(c.attributes.at("email_too_large"), std::to_string(50 << 20));
}

TEST(ImapMime, TextIsCappedAtACharacterBoundary) {
  mime_settings s;
  s.max_text_bytes = 7;  // "Хочу" is 8 bytes: the cut must not split a character
  mail m = parse("cp1251.eml", s);
  EXPECT_EQ(m.text, "Хоч");
}

TEST(ImapMime, ContactMapping) {
  mail m = parse("attachments.eml");
  mail_origin o{"support", "INBOX", 7, 42, "support@shop.example", "shop", 1000};
  core::contact c = to_contact(m, o);
  EXPECT_EQ(c.provider, "imap");
  EXPECT_EQ(c.source_id, "support:att-1@example.ru");
  EXPECT_EQ(c.id, core::contact_id("imap", "support:att-1@example.ru"));
  EXPECT_EQ(c.chan, core::channel::email);
  EXPECT_EQ(c.conversation, "email:att-1@example.ru");
  EXPECT_EQ(c.domain, "shop");
  EXPECT_EQ(c.to, "support@shop.example");
  ASSERT_EQ(c.customer.identities.size(), 1u);
  EXPECT_EQ(c.customer.identities[0], (core::identity{"email", "ivan@example.ru"}));
  EXPECT_EQ(c.attachments[0].ref, "section:2");
  EXPECT_EQ(c.attributes.at("imap_uid"), "42");
  EXPECT_EQ(c.attributes.at("email_message_id"), "att-1@example.ru");
  EXPECT_TRUE(core::decode_contact(core::encode(c)).ok());

  // Without a Message-ID the id comes from mailbox, UIDVALIDITY and UID: stable across re-fetches.
  mail anon = parse("no_message_id.eml");
  EXPECT_EQ(source_id(anon, o), "support:INBOX:7:42");
  EXPECT_EQ(to_contact(anon, o).id, to_contact(anon, o).id);
}

TEST(ImapMime, GarbageNeverYieldsInvalidUtf8) {
  std::string raw =
      "Subject: =?utf-8?B?/////w==?= \xff\xfe\r\nFrom: \"\xc3\" <x@y>\r\n\r\n\xff\xc0\x80";
  auto m = parse_mail(raw, {});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(core::valid_utf8(m->subject));
  EXPECT_TRUE(core::valid_utf8(m->text));
  EXPECT_TRUE(core::valid_utf8(m->from_name));
}

}  // namespace
}  // namespace omni::connectors::imap
