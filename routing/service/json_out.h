#pragma once
// A streaming JSON writer for the router's hot path (the changelog step, a customer's history):
// appends straight into one string instead of building an nlohmann tree and dumping it. The output
// is exactly nlohmann's compact dump of the same document (json::dump(-1, ' ', false,
// error_handler_t::replace)) provided the caller writes object keys in sorted order, as nlohmann's
// std::map-backed objects do; tests check that equality. Strings that are not valid UTF-8 fall
// back to nlohmann's own escaping (invalid sequences replaced by U+FFFD), so both agree there too.
// Plain value, used on one thread.

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/events/codec.h"

namespace omni::routing::service {

class json_out {
 public:
  explicit json_out(std::string& out) : out_(out) {}

  json_out& begin_object() { return open('{'); }
  json_out& end_object() { return close('}'); }
  json_out& begin_array() { return open('['); }
  json_out& end_array() { return close(']'); }

  // An object member's name; the value follows with one of the calls below.
  json_out& key(std::string_view k) {
    separate();
    append_string(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  json_out& value(std::string_view s) {
    separate();
    append_string(s);
    return *this;
  }
  json_out& value(const char* s) { return value(std::string_view(s)); }
  json_out& value(const std::string& s) { return value(std::string_view(s)); }
  json_out& value(std::int64_t n) {
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, r.ptr);
    return *this;
  }
  json_out& value(int n) { return value(static_cast<std::int64_t>(n)); }
  json_out& value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
  }
  template <class V>
  json_out& member(std::string_view k, const V& v) {
    return key(k).value(v);
  }

 private:
  json_out& open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  json_out& close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  // A comma before every element but the first of its container (a value after its key: none).
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (first_.back())
      first_.back() = false;
    else
      out_.push_back(',');
  }
  void append_string(std::string_view s) {
    if (!core::valid_utf8(s)) {  // rare: let nlohmann replace what is invalid, as it always did
      out_ += nlohmann::json(std::string(s))
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
    out_.push_back('"');
    std::size_t plain = 0;  // start of the run of bytes copied as they are
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + plain, i - plain);
      plain = i + 1;
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
        case '\f':
          out_ += "\\f";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          out_.append(esc, sizeof esc);
        }
      }
    }
    out_.append(s.data() + plain, s.size() - plain);
    out_.push_back('"');
  }

  std::string& out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace omni::routing::service
