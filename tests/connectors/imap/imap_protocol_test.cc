// The IMAP response framer and parser: literals split across reads, caps on hostile sizes,
// response codes, FETCH data, and the command helpers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "connectors/imap/protocol.h"
#include "connectors/imap/resume.h"

namespace omni::connectors::imap {
namespace {

std::vector<std::string> drain(framer& f) {
  std::vector<std::string> out;
  for (;;) {
    auto n = f.next();
    EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.err().message);
    if (!n.ok() || !*n) return out;
    out.push_back(**n);
  }
}

TEST(ImapFramer, LiteralsSplitAcrossReadsByteByByte) {
  std::string stream =
      "* 1 FETCH (UID 7 BODY[] {12}\r\nab\r\n)\r\n{3}\r\n RFC822.SIZE 12)\r\n"
      "a1 OK done\r\n";
  framer f;
  std::vector<std::string> got;
  for (char c : stream) {
    f.feed(std::string_view(&c, 1));
    for (auto& r : drain(f)) got.push_back(r);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], "a1 OK done\r\n");
  auto r = parse(got[0]);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->name, "FETCH");
  EXPECT_EQ(*r->number, 1u);
  ASSERT_EQ(r->data.size(), 1u);
  EXPECT_EQ(r->data[0].find("UID")->number(), 7u);
  EXPECT_EQ(r->data[0].find("BODY[]")->text, "ab\r\n)\r\n{3}\r\n");  // literal taken verbatim
  EXPECT_EQ(r->data[0].find("RFC822.SIZE")->number(), 12u);
}

TEST(ImapFramer, HugeAnnouncedLiteralIsRefusedNotAllocated) {
  framer f(framer_limits{1024, 1 << 20, 2 << 20});
  f.feed("* 1 FETCH (BODY[] {4294967295}\r\nxx");
  auto n = f.next();
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.err().message.find("exceeds"), std::string::npos);
  EXPECT_LT(f.buffered(), 100u);

  framer g(framer_limits{1024, 1 << 20, 2 << 20});
  g.feed("* 1 FETCH (BODY[] {99999999999999999999999}\r\n");
  auto m = g.next();  // not a valid size: a plain line, then a parse error, never an allocation
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(*m);
  EXPECT_FALSE(parse(**m).ok());
}

TEST(ImapFramer, AllowedLiteralIsStreamedWithoutReserve) {
  framer f(framer_limits{1024, 1 << 20, 2 << 20});
  f.feed("* 1 FETCH (BODY[] {1000000}\r\n");
  auto n = f.next();
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(*n);
  EXPECT_LT(f.buffered(), 100u);  // nothing grew to the announced size
  f.feed(std::string(1000000, 'x') + ")\r\n");
  auto m = f.next();
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(*m);
  auto r = parse(**m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data[0].find("BODY[]")->text.size(), 1000000u);
}

TEST(ImapFramer, OverlongLineIsAnError) {
  framer f(framer_limits{100, 1000, 2000});
  f.feed("* OK " + std::string(200, 'a'));
  EXPECT_FALSE(f.next().ok());
}

TEST(ImapParse, StatusResponsesAndCodes) {
  auto r = parse("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->k, response::kind::untagged);
  EXPECT_EQ(r->status, "OK");
  EXPECT_EQ(r->code, "UIDVALIDITY");
  EXPECT_EQ(r->code_args, "3857529045");
  EXPECT_EQ(r->text, "UIDs valid");

  auto t = parse("a7 NO [ALREADYEXISTS] Mailbox exists\r\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->tag, "a7");
  EXPECT_EQ(t->status, "NO");
  EXPECT_EQ(t->code, "ALREADYEXISTS");

  auto c = parse("+ idling\r\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->k, response::kind::continuation);
  EXPECT_EQ(c->text, "idling");

  auto e = parse("* 23 EXISTS\r\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->name, "EXISTS");
  EXPECT_EQ(*e->number, 23u);

  auto caps = parse("* CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN\r\n");
  ASSERT_TRUE(caps.ok());
  ASSERT_EQ(caps->data.size(), 3u);
  EXPECT_TRUE(caps->data[1].is_atom("idle"));
}

TEST(ImapParse, FetchWithQuotedNilAndSectionAtoms) {
  auto r = parse(
      "* 3 FETCH (UID 9 FLAGS (\\Seen $Routed) BODY[HEADER.FIELDS (FROM TO)] \"a \\\"q\\\" b\" "
      "X NIL)\r\n");
  ASSERT_TRUE(r.ok()) << r.err().message;
  const value& d = r->data[0];
  EXPECT_EQ(d.find("FLAGS")->items.size(), 2u);
  EXPECT_EQ(d.find("BODY[HEADER.FIELDS (FROM TO)]")->text, "a \"q\" b");
  EXPECT_EQ(d.find("X")->k, value::kind::nil);
}

TEST(ImapParse, BrokenInputIsAnErrorValue) {
  for (std::string bad :
       std::vector<std::string>{"", "\r\n", "* 1 FETCH (UID 1\r\n", "* 1 FETCH (\"unterminated\r\n",
                                "a1\r\n", "a1 FETCH x\r\n", "* 1 FETCH (BODY[] {5}\r\nab)\r\n",
                                std::string("* 12345678901234567890123 EXISTS\r\n")}) {
    EXPECT_FALSE(parse(bad).ok()) << bad;
  }
  std::string deep = "* LIST " + std::string(1000, '(') + std::string(1000, ')') + "\r\n";
  EXPECT_FALSE(parse(deep).ok());
}

TEST(ImapCommands, QuoteUidSetMailboxName) {
  EXPECT_EQ(quote("pass \"word\"\\"), "\"pass \\\"word\\\"\\\\\"");
  EXPECT_EQ(quote("пароль"), "{12}\r\nпароль");
  EXPECT_EQ(uid_set({7, 1, 2, 3, 9, 10, 3}), "1:3,7,9:10");
  EXPECT_EQ(mailbox_name("INBOX"), "INBOX");
  EXPECT_EQ(mailbox_name("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-");  // RFC 3501
  EXPECT_EQ(mailbox_name("A&B"), "A&-B");
}

TEST(ImapResume, AtomicSaveAndLoad) {
  auto dir = std::filesystem::temp_directory_path() / ("imap-resume-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto file = state_path(dir, "Support/Входящие");
  EXPECT_EQ(file.filename().string().find('/'), std::string::npos);
  auto none = load_state(file);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  ASSERT_TRUE(save_state(file, {"Support/Входящие", 42, 17}).ok());
  auto back = load_state(file);
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(*back);
  EXPECT_EQ(**back, (mailbox_state{"Support/Входящие", 42, 17}));
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  {
    std::ofstream damaged(file);
    damaged << "{\"mailbox\": 1";
  }
  EXPECT_FALSE(load_state(file).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace omni::connectors::imap
