#pragma once
// A streaming JSON writer: appends a document straight into one string, without building a tree
// first (filling an nlohmann::json and dumping it costs a node allocation per field and a string
// that grows by doubling). Used by the event encoders (core/events/codec.cc) and the router's
// changelog step and history (routing/service). A plain value, used on one thread.
//
// The output is byte for byte what nlohmann's compact dump of the same document gives
// (json::dump(-1, ' ', false, error_handler_t::replace)) provided the caller writes each object's
// keys in sorted order, as nlohmann's std::map-backed objects hold them: no whitespace, UTF-8 kept
// as is, `"` `\` and control characters escaped as nlohmann escapes them, and an invalid UTF-8
// sequence (callers validate strings on the way in; this keeps encoding total if one slipped)
// replaced by U+FFFD where nlohmann's replace handler puts it. tests/core/events_test.cc checks
// that equality.

#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/events/events.h"

namespace omni::core {

// Writes format_timestamp(t) (RFC 3339, milliseconds, UTC) into buf (at least 40 bytes,
// NUL-terminated); returns its length.
std::size_t format_timestamp_to(timestamp_ms t, char* buf);

class json_writer {
 public:
  // `expected_bytes`: a guess at the document's size, reserved once.
  explicit json_writer(std::size_t expected_bytes) { out_.reserve(expected_bytes); }

  std::string take() { return std::move(out_); }

  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  // An object member's name; its value follows with one of the calls below.
  json_writer& key(std::string_view k) {
    separate();
    quoted(k);
    out_ += ':';
    comma_ = false;
    return *this;
  }

  json_writer& string(std::string_view v) {
    separate();
    quoted(v);
    comma_ = true;
    return *this;
  }
  json_writer& integer(std::int64_t v) {
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    comma_ = true;
    return *this;
  }
  json_writer& boolean(bool v) {
    separate();
    out_ += v ? "true" : "false";
    comma_ = true;
    return *this;
  }
  // A value that is JSON already (written by us, e.g. another json_writer's output).
  json_writer& raw(std::string_view json) {
    separate();
    out_ += json;
    comma_ = true;
    return *this;
  }
  // A timestamp as its RFC 3339 string (format_timestamp).
  json_writer& time(timestamp_ms t);

  // Values by type, for generic callers (member below).
  json_writer& value(std::string_view v) { return string(v); }
  json_writer& value(const char* v) { return string(v); }
  json_writer& value(const std::string& v) { return string(v); }
  json_writer& value(std::int64_t v) { return integer(v); }
  json_writer& value(int v) { return integer(v); }
  json_writer& value(bool v) { return boolean(v); }

  // key + value shorthands
  template <typename Value>
  json_writer& member(std::string_view k, const Value& v) {
    return key(k).value(v);
  }
  json_writer& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  json_writer& field(std::string_view k, std::int64_t v) { return key(k).integer(v); }
  json_writer& field_if(std::string_view k, std::string_view v) {
    return v.empty() ? *this : field(k, v);
  }
  json_writer& time_field(std::string_view k, timestamp_ms t) { return key(k).time(t); }
  // An object of strings or integers (a std::map: keys already sorted); nothing when empty.
  template <typename Value>
  json_writer& map_if(std::string_view k, const std::map<std::string, Value>& m) {
    if (m.empty()) return *this;
    key(k).begin_object();
    for (const auto& [mk, mv] : m) {
      if constexpr (std::is_same_v<Value, std::string>)
        field(mk, mv);
      else
        field(mk, static_cast<std::int64_t>(mv));
    }
    return end_object();
  }

 private:
  json_writer& open(char c) {
    separate();
    out_ += c;
    comma_ = false;
    return *this;
  }
  json_writer& close(char c) {
    out_ += c;
    comma_ = true;
    return *this;
  }
  void separate() {
    if (comma_) out_ += ',';
  }

  void quoted(std::string_view s);
  static std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end);
  static std::size_t expected_length(unsigned char lead);
  static std::size_t valid_prefix(const unsigned char* p, const unsigned char* end);
  static std::size_t invalid_sequence_length(const unsigned char* p, const unsigned char* end);

  std::string out_;
  bool comma_ = false;  // the next element needs a comma before it
};

}  // namespace omni::core
