#include "core/events/json_writer.h"

#include <cstdint>
#include <cstring>

namespace omni::core {

json_writer& json_writer::time(timestamp_ms t) {
  separate();
  char buf[48];
  buf[0] = '"';
  std::size_t n = format_timestamp_to(t, buf + 1);
  buf[n + 1] = '"';
  out_.append(buf, n + 2);
  comma_ = true;
  return *this;
}

namespace {
// True when none of the eight bytes at p needs care in a string literal: none is a control
// character, '"', '\\' or the start of a multi-byte sequence (bit tricks of "Bit Twiddling Hacks":
// a byte is zero / below n exactly when the borrow reaches its top bit).
bool plain_ascii8(const unsigned char* p) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  auto has_zero = [&](std::uint64_t v) { return (v - ones) & ~v & tops; };
  const std::uint64_t care = (w & tops) | ((w - ones * 0x20) & ~w & tops) |
                             has_zero(w ^ (ones * '"')) | has_zero(w ^ (ones * '\\'));
  return care == 0;
}
}  // namespace

// A JSON string literal: runs of bytes that need nothing are appended in one go.
void json_writer::quoted(std::string_view s) {
  out_ += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;
  auto flush = [&](const unsigned char* upto) {
    out_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(upto - run));
  };
  while (p < end) {
    if (end - p >= 8 && plain_ascii8(p)) {  // the common case, eight bytes at a time
      p += 8;
      continue;
    }
    const unsigned char c = *p;
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++p;
      continue;
    }
    if (c >= 0x80) {
      if (c >= 0xC2 && c <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80) {
        p += 2;  // two-byte sequence (Cyrillic, Greek, accented Latin), well-formed
        continue;
      }
      std::size_t n = utf8_sequence(p, end);
      if (n > 0) {  // well-formed: copied with the run
        p += n;
        continue;
      }
      flush(p);
      out_ += "\xEF\xBF\xBD";
      p += invalid_sequence_length(p, end);
      run = p;
      continue;
    }
    flush(p);
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\b':
        out_ += "\\b";
        break;
      case '\t':
        out_ += "\\t";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\f':
        out_ += "\\f";
        break;
      case '\r':
        out_ += "\\r";
        break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out_.append(esc, sizeof esc);
      }
    }
    run = ++p;
  }
  flush(p);
  out_ += '"';
}

// Well-formed UTF-8 per Unicode's table 3-7 (what nlohmann's decoder accepts): the length of the
// sequence starting at p, or 0 when it is not well-formed.
std::size_t json_writer::utf8_sequence(const unsigned char* p, const unsigned char* end) {
  return valid_prefix(p, end) == expected_length(*p) ? expected_length(*p) : 0;
}
std::size_t json_writer::expected_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;  // an ASCII byte, or a lead that can never start a sequence
}
// How many bytes from p belong to a well-formed (possibly unfinished) sequence, lead included;
// 0 when the lead byte itself is invalid.
std::size_t json_writer::valid_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = *p;
  const std::size_t want = expected_length(lead);
  if (lead >= 0x80 && want == 1) return 0;
  std::size_t i = 1;
  for (; i < want && p + i < end; ++i) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (i == 1) {
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    }
    if (p[i] < lo || p[i] > hi) break;
  }
  return i;
}
// The bytes one U+FFFD stands for, as nlohmann's replace handler counts them: an invalid lead
// byte alone; otherwise the valid start of the sequence (the byte that broke it is read again).
std::size_t json_writer::invalid_sequence_length(const unsigned char* p, const unsigned char* end) {
  const std::size_t n = valid_prefix(p, end);
  return n == 0 ? 1 : n;
}

}  // namespace omni::core
