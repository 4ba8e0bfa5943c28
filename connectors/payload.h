#pragma once
// Safe reading of provider JSON payloads: every accessor checks presence and type and never throws,
// and a failed read names the JSON path at fault ("entry[0].changes[0].value.messages[1].from").
//
// Parsed with simdjson's DOM (one tape per request instead of a tree of allocated nodes: the
// mapping of a webhook is on every request's path). simdjson stays inside payload.cc: a node
// carries its element as 16 opaque bytes. Bodies simdjson refuses are read by nlohmann::json for
// the error message, and the few it refuses that are valid JSON (integers beyond 64 bits) are
// mapped from nlohmann's re-serialized text, so a valid delivery is never turned away.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace omni::connectors::payload {

class node;

// A parsed request body. Movable; nodes read from it stay valid while it lives.
class document {
 public:
  document(document&&) noexcept;
  document& operator=(document&&) noexcept;
  ~document();

  struct impl;

 private:
  friend class node;
  friend core::result<document> parse(std::string_view body);
  explicit document(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Parses a request body; the error says where the JSON is broken.
core::result<document> parse(std::string_view body);

// The same body as an nlohmann tree, for a mapper that edits the document (the generic hook); the
// same error texts as parse().
core::result<nlohmann::json> parse_tree(std::string_view body);

// A position in a document: the value (possibly absent or null) and its path for error messages.
// The path is built on every lookup but read only when something is wrong, so it is kept inline (no
// allocation per lookup) up to inline_path_bytes, and in a string beyond that.
class node {
 public:
  node() = default;
  explicit node(const document& doc);

  bool exists() const;  // present and not null
  bool is_object() const;
  bool is_array() const;
  // "object", "array", "string", "number", "boolean", "null", or "absent".
  std::string_view type_name() const;
  std::string_view path() const {
    return long_path_.empty() ? std::string_view(path_.data(), path_length_) : long_path_;
  }

  node operator[](std::string_view key) const;
  node at(std::size_t i) const;
  std::size_t size() const;  // an array's length; 0 for anything else

  // Scalars: a string as is; integers as digits (Telegram / VK ids are integers).
  std::optional<std::string> text() const;
  std::optional<std::int64_t> integer() const;
  std::optional<bool> boolean() const;
  // Any JSON number as text: integers as digits, others as the shortest text that reads back the
  // same double ("55.7558"; "55.0" for an integral one, as nlohmann::json::dump writes it).
  std::optional<std::string> number_text() const;
  std::string text_or(std::string fallback) const { return text().value_or(std::move(fallback)); }

  // An object's first key that is not one of `skip`; "" when there is none or it is not an object.
  std::string first_key_except(std::initializer_list<std::string_view> skip) const;

  // The same with an error naming this node's path when missing or of the wrong type.
  core::result<std::string> required_text() const;
  core::result<std::int64_t> required_integer() const;
  core::error missing(std::string_view what = "is required") const;

  static constexpr std::size_t inline_path_bytes = 86;
  static constexpr std::size_t element_bytes = 16;  // sizeof(simdjson::dom::element)

 private:
  void append_path(std::string_view piece);

  bool present_ = false;
  alignas(8) std::array<std::byte, element_bytes> element_{};
  std::uint8_t path_length_ = 0;
  std::array<char, inline_path_bytes> path_{};
  std::string long_path_;  // the whole path, once it outgrew path_
};

}  // namespace omni::connectors::payload
