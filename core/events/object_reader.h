#pragma once
// Reads one decoded JSON object of an event field by field, with types and limits checked and the
// field's path kept for the error. Used by the decoders in codec.cc.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/events/codec.h"

namespace omni::core::detail {

using json = nlohmann::json;

// Reads one JSON object field by field, keeping the path for error messages. The first error wins;
// later reads become no-ops so a decoder can read every field and check once at the end.
class object_reader {
 public:
  object_reader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  bool failed() const { return error_.has_value(); }
  error take_error() { return std::move(*error_); }

  void fail(std::string_view key, std::string message) {
    if (!error_) error_ = error{std::move(message), join(key)};
  }
  // Records an error whose field is already a full path (from a nested reader).
  void fail_path(std::string field, std::string message) {
    if (!error_) error_ = error{std::move(message), std::move(field)};
  }
  void fail_from(object_reader& nested) {
    if (nested.failed()) {
      error e = nested.take_error();
      fail_path(std::move(e.field), std::move(e.message));
    }
  }

  std::string join(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    return path_ + "." + std::string(key);
  }

  const json* find(std::string_view key) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string str(std::string_view key, bool required,
                  std::size_t max = codec_limits::max_short_bytes) {
    if (failed()) return {};
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return {};
    }
    if (!v->is_string()) {
      fail(key, std::string("must be a string, got ") + v->type_name());
      return {};
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) {
      fail(key, "is too long (" + std::to_string(s.size()) + " bytes, at most " +
                    std::to_string(max) + ")");
      return {};
    }
    if (required && s.empty()) {
      fail(key, "must not be empty");
      return {};
    }
    return s;
  }

  std::optional<std::int64_t> integer(std::string_view key, bool required) {
    if (failed()) return std::nullopt;
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return std::nullopt;
    }
    if (!v->is_number_integer()) {
      fail(key, std::string("must be an integer, got ") + v->type_name());
      return std::nullopt;
    }
    return v->get<std::int64_t>();
  }

  std::optional<bool> boolean(std::string_view key) {
    if (failed()) return std::nullopt;
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      fail(key, std::string("must be a boolean, got ") + v->type_name());
      return std::nullopt;
    }
    return v->get<bool>();
  }

  timestamp_ms time(std::string_view key, bool required) {
    if (failed()) return 0;
    const json* v = find(key);
    if (!v) {
      if (required) fail(key, "is required");
      return 0;
    }
    if (!v->is_string()) {
      fail(key, std::string("must be an RFC 3339 timestamp string, got ") + v->type_name());
      return 0;
    }
    auto t = parse_timestamp(v->get_ref<const std::string&>());
    if (!t) {
      fail(key, t.err().message);
      return 0;
    }
    return *t;
  }

  std::optional<timestamp_ms> optional_time(std::string_view key) {
    if (failed() || !find(key)) return std::nullopt;
    return time(key, true);
  }

  template <typename Enum, typename Parse>
  Enum enumeration(std::string_view key, bool required, Enum fallback, Parse parse,
                   std::string_view allowed) {
    std::string s = str(key, required);
    if (failed() || s.empty()) return fallback;
    std::optional<Enum> e = parse(s);
    if (!e) {
      fail(key, "unknown value '" + s + "' (expected one of " + std::string(allowed) + ")");
      return fallback;
    }
    return *e;
  }

  // Calls each(element_json, element_path) for every element of an array field.
  template <typename Each>
  void array(std::string_view key, Each each) {
    if (failed()) return;
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) {
      fail(key, std::string("must be an array, got ") + v->type_name());
      return;
    }
    if (v->size() > codec_limits::max_items) {
      fail(key, "has too many items (" + std::to_string(v->size()) + ", at most " +
                    std::to_string(codec_limits::max_items) + ")");
      return;
    }
    std::size_t i = 0;
    for (const auto& el : *v) {
      if (failed()) return;
      each(el, join(key) + "[" + std::to_string(i++) + "]");
    }
  }

  template <typename Value, typename Convert>
  std::map<std::string, Value> map(std::string_view key, Convert convert) {
    std::map<std::string, Value> out;
    if (failed()) return out;
    const json* v = find(key);
    if (!v) return out;
    if (!v->is_object()) {
      fail(key, std::string("must be an object, got ") + v->type_name());
      return out;
    }
    if (v->size() > codec_limits::max_items) {
      fail(key, "has too many entries (at most " + std::to_string(codec_limits::max_items) + ")");
      return out;
    }
    for (const auto& [k, val] : v->items()) {
      if (k.size() > codec_limits::max_short_bytes) {
        fail(key,
             "has a key longer than " + std::to_string(codec_limits::max_short_bytes) + " bytes");
        return out;
      }
      std::optional<Value> converted = convert(val);
      if (!converted) {
        fail(std::string(key) + "." + k, std::string("has the wrong type ") + val.type_name());
        return out;
      }
      out.emplace(k, std::move(*converted));
    }
    return out;
  }

  std::map<std::string, std::string> string_map(std::string_view key) {
    return map<std::string>(key, [](const json& v) -> std::optional<std::string> {
      if (!v.is_string() ||
          v.get_ref<const std::string&>().size() > codec_limits::max_subject_bytes)
        return std::nullopt;
      return v.get<std::string>();
    });
  }

  std::map<std::string, int> int_map(std::string_view key, int lo, int hi) {
    return map<int>(key, [lo, hi](const json& v) -> std::optional<int> {
      if (!v.is_number_integer()) return std::nullopt;
      auto n = v.get<std::int64_t>();
      if (n < lo || n > hi) return std::nullopt;
      return static_cast<int>(n);
    });
  }

 private:
  const json& obj_;
  std::string path_;
  std::optional<error> error_;
};

}  // namespace omni::core::detail
