#pragma once
// Safe reading of provider JSON payloads: every accessor checks presence and type and never throws,
// and a failed read names the JSON path at fault ("entry[0].changes[0].value.messages[1].from").
// Built on nlohmann::json parsed with exceptions off.

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace omni::connectors::payload {

using json = nlohmann::json;

// Parses a request body; the error says where the JSON is broken.
core::result<json> parse(std::string_view body);

// A position in a document: the value (possibly null) and its path for error messages. The path is
// built on every lookup but read only when something is wrong, so it is kept inline (no allocation
// per lookup) up to inline_path_bytes, and in a string beyond that.
class node {
 public:
  node() = default;
  node(const json* v, std::string_view path) : value_(v) { append_path(path); }
  explicit node(const json& root) : value_(&root) {}

  bool exists() const { return value_ && !value_->is_null(); }
  bool is_object() const { return value_ && value_->is_object(); }
  bool is_array() const { return value_ && value_->is_array(); }
  std::string_view path() const {
    return long_path_.empty() ? std::string_view(path_.data(), path_length_) : long_path_;
  }
  const json* raw() const { return value_; }

  node operator[](std::string_view key) const;
  node at(std::size_t i) const;
  std::size_t size() const { return is_array() ? value_->size() : 0; }

  // Scalars: a string as is; numbers rendered without exponent (Telegram / VK ids are integers).
  std::optional<std::string> text() const;
  std::optional<std::int64_t> integer() const;
  std::string text_or(std::string fallback) const { return text().value_or(std::move(fallback)); }

  // The same with an error naming this node's path when missing or of the wrong type.
  core::result<std::string> required_text() const;
  core::result<std::int64_t> required_integer() const;
  core::error missing(std::string_view what = "is required") const;

  static constexpr std::size_t inline_path_bytes = 86;

 private:
  void append_path(std::string_view piece);

  const json* value_ = nullptr;
  std::uint8_t path_length_ = 0;
  std::array<char, inline_path_bytes> path_{};
  std::string long_path_;  // the whole path, once it outgrew path_
};

}  // namespace omni::connectors::payload
