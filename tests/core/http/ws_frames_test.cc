// core/http/detail/ws_frames.h, the compact socket's frame decoder, without sockets: every input
// gives the same messages, pings, close or violation whether it arrives whole, split in two at any
// byte or one byte at a time; each RFC 6455 violation gives its close code, and nothing is yielded
// after a close frame or a violation.
#include "core/http/detail/ws_frames.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/http/websocket.h"

namespace omni::core::http::ws::detail {
namespace {

using namespace opcodes;

constexpr std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

// What the decoder yielded, one line per event.
class recorder : public frame_sink {
 public:
  std::vector<std::string> events;
  void on_message(std::string m, bool binary) override {
    events.push_back((binary ? "binary:" : "text:") + m);
  }
  void on_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void on_error(std::uint16_t code, std::string_view cause) override {
    events.push_back("error:" + std::to_string(code) + ":" + std::string(cause));
  }
};

std::string frame(std::uint8_t op, std::string_view payload, bool fin = true) {
  std::string out;
  append_frame(out, op, payload, fin, mask);
  return out;
}

const auto* bytes(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

std::vector<std::string> decode_parts(const std::string& in, const std::vector<std::size_t>& cuts,
                                      std::size_t cap) {
  frame_decoder d(cap);
  recorder r;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    d.feed(bytes(in) + at, cut - at, r);
    at = cut;
  }
  d.feed(bytes(in) + at, in.size() - at, r);
  return r.events;
}

// Decodes `in` whole and checks that every split in two and byte-by-byte feeding agree.
std::vector<std::string> decode(const std::string& in, std::size_t cap = 1024) {
  const auto whole = decode_parts(in, {}, cap);
  for (std::size_t cut = 0; cut <= in.size(); ++cut)
    EXPECT_EQ(decode_parts(in, {cut}, cap), whole) << "split at " << cut;
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
  EXPECT_EQ(decode_parts(in, every, cap), whole) << "byte by byte";
  return whole;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return p.append(reason);
}

using events = std::vector<std::string>;

TEST(WsFrames, ValidStreamSameInAnySplit) {
  const std::string medium(200, 'm');  // the 16-bit length form
  const std::string in = frame(op_text, "hello") + frame(op_binary, std::string("\xff\x00", 2)) +
                         frame(op_text, "fra", false) + frame(op_ping, "p") +
                         frame(op_continuation, "g\xe2\x82", false) + frame(op_pong, "x") +
                         frame(op_continuation, "\xac") + frame(op_text, medium) +
                         frame(op_text, "") + frame(op_close, close_payload(1000, "bye"));
  EXPECT_EQ(decode(in),
            (events{"text:hello", std::string("binary:\xff\x00", 9), "ping:p",
                    "text:frag\xe2\x82\xac", "text:" + medium, "text:", "close:1000:bye"}));
}

TEST(WsFrames, LongLengthForm) {
  const std::string big(70000, 'b');
  const std::string in = frame(op_binary, big);
  const events expected{"binary:" + big};
  EXPECT_EQ(decode_parts(in, {}, 100000), expected);
  EXPECT_EQ(decode_parts(in, {1, 2, 9, 13, 14, 5000, 69999}, 100000), expected);
  EXPECT_EQ(decode_parts(in, {}, 69999), (events{"error:1009:too_big"}));
}

TEST(WsFrames, CloseWithoutCode) { EXPECT_EQ(decode(frame(op_close, "")), (events{"close:0:"})); }

TEST(WsFrames, NothingAfterClose) {
  EXPECT_EQ(decode(frame(op_close, close_payload(4000, "")) + frame(op_text, "late")),
            (events{"close:4000:"}));
}

TEST(WsFrames, NothingAfterViolation) {
  EXPECT_EQ(decode(frame(op_text, "\xc0\xaf") + frame(op_text, "late")),
            (events{"error:1007:bad_utf8"}));
}

TEST(WsFrames, EachViolationHasItsCloseCode) {
  const std::string protocol = "error:1002:protocol";
  std::string unmasked;
  append_frame(unmasked, op_text, "hi");
  std::string rsv = frame(op_text, "hi");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);  // an extension bit without an extension
  std::string long_ping = frame(op_ping, std::string(126, 'p'));
  // A 16-bit length of 100 (the 7-bit form was required) and a 64-bit length of 1000.
  const std::string short16 = std::string("\x81\xfe\x00\x64", 4) + "abcd" + std::string(100, 'x');
  const std::string short64 =
      std::string("\x82\xff\x00\x00\x00\x00\x00\x00\x03\xe8", 10) + "abcd" + std::string(1000, 'x');
  const std::string top_bit = std::string("\x82\xff\x80\x00\x00\x00\x00\x01\x00\x00", 10) + "abcd";
  const struct {
    const char* name;
    std::string in;
    std::string event;
  } cases[] = {
      {"unmasked", unmasked, protocol},
      {"reserved bit", rsv, protocol},
      {"reserved data opcode", frame(3, "x"), protocol},
      {"reserved control opcode", frame(11, "x"), protocol},
      {"fragmented ping", frame(op_ping, "x", false), protocol},
      {"long ping", long_ping, protocol},
      {"stray continuation", frame(op_continuation, "x"), protocol},
      {"new message inside a fragmented one", frame(op_text, "a", false) + frame(op_text, "b"),
       protocol},
      {"16-bit length not shortest", short16, protocol},
      {"64-bit length not shortest", short64, protocol},
      {"64-bit length top bit", top_bit, protocol},
      {"close payload of one byte", frame(op_close, "\x03"), protocol},
      {"close code 1005 on the wire", frame(op_close, close_payload(1005, "")), protocol},
      {"close code 999", frame(op_close, close_payload(999, "")), protocol},
      {"close reason not UTF-8", frame(op_close, close_payload(1000, "\xff")), protocol},
      {"too big", frame(op_text, std::string(1025, 'a')), "error:1009:too_big"},
      {"too big across fragments",
       frame(op_text, std::string(600, 'a'), false) + frame(op_continuation, std::string(600, 'a')),
       "error:1009:too_big"},
      {"invalid UTF-8", frame(op_text, "ok\xff"), "error:1007:bad_utf8"},
      {"surrogate", frame(op_text, "\xed\xa0\x80"), "error:1007:bad_utf8"},
      {"UTF-8 cut at the message end",
       frame(op_text, "a\xe2\x82", false) + frame(op_continuation, ""), "error:1007:bad_utf8"},
      {"invalid UTF-8 across fragments",
       frame(op_text, "\xe2", false) + frame(op_continuation, "a"), "error:1007:bad_utf8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // After the violation a valid message follows; it must not come out.
    EXPECT_EQ(decode(c.in + frame(op_text, "after")), (events{c.event}));
  }
}

TEST(WsFrames, BinaryIsNotCheckedAsUtf8) {
  EXPECT_EQ(decode(frame(op_binary, "\xff\xfe")), (events{"binary:\xff\xfe"}));
}

TEST(WsFrames, CapCountsWholeMessage) {
  EXPECT_EQ(decode(frame(op_text, std::string(512, 'a'), false) +
                   frame(op_continuation, std::string(512, 'b'))),
            (events{"text:" + std::string(512, 'a') + std::string(512, 'b')}));
}

}  // namespace
}  // namespace omni::core::http::ws::detail
