// Fuzzes the compact WebSocket socket's frame decoder (core/http/detail/ws_frames.h): a size cap
// and arbitrary bytes, fed whole and again in pseudo-random splits drawn from the input, must give
// the same events; data messages never exceed the cap, text messages are valid UTF-8 (checked here
// by an independent RFC 3629 validator, not Beast's), a violation has one of the decoder's close
// codes, and nothing is yielded after a close or a violation. Never a crash, a hang or a sanitizer
// report.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/detail/ws_frames.h"

namespace {

using namespace omni::core::http::ws::detail;

// RFC 3629: shortest forms only, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3f);
    }
    static constexpr std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

class checker : public frame_sink {
 public:
  explicit checker(std::size_t cap) : cap_(cap) {}
  std::vector<std::string> events;
  void on_message(std::string m, bool binary) override {
    if (ended_ || m.size() > cap_ || (!binary && !valid_utf8(m))) std::abort();
    events.push_back((binary ? "b" : "t") + m);
  }
  void on_ping(std::string_view p) override {
    if (ended_ || p.size() > 125) std::abort();
    events.push_back("p" + std::string(p));
  }
  void on_close(std::uint16_t code, std::string_view reason) override {
    if (ended_ || (code != 0 && code < 1000) || !valid_utf8(reason)) std::abort();
    ended_ = true;
    events.push_back("c" + std::to_string(code) + std::string(reason));
  }
  void on_error(std::uint16_t code, std::string_view cause) override {
    const bool known = (code == 1002 && cause == "protocol") ||
                       (code == 1007 && cause == "bad_utf8") ||
                       (code == 1009 && cause == "too_big");
    if (ended_ || !known) std::abort();
    ended_ = true;
    events.push_back("e" + std::to_string(code));
  }

 private:
  std::size_t cap_;
  bool ended_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first two bytes are the message size cap (times 4: up to 256 KiB, so that the 64-bit
  // length form can fit; often small, so that inputs reach it); the rest are the client's bytes.
  if (size < 2) return 0;
  const std::size_t cap = std::size_t{4} * (data[0] << 8 | data[1]);
  data += 2;
  size -= 2;
  checker whole(cap);
  frame_decoder a(cap);
  a.feed(data, size, whole);
  if (a.done() !=
      (!whole.events.empty() && (whole.events.back()[0] == 'c' || whole.events.back()[0] == 'e')))
    std::abort();

  // The same bytes in pieces of 0 to 16 bytes, the sizes drawn from a hash of the input.
  std::uint64_t state = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) state = (state ^ data[i]) * 1099511628211ull;
  checker split(cap);
  frame_decoder b(cap);
  for (size_t at = 0; at < size;) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    const size_t n = std::min<size_t>(state % 17, size - at);
    b.feed(data + at, n, split);
    at += n;
  }
  if (split.events != whole.events) std::abort();
  return 0;
}
