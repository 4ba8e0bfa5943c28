#pragma once
// Safe reading of provider JSON payloads: every accessor checks presence and type and never throws,
// and a failed read names the JSON path at fault ("entry[0].changes[0].value.messages[1].from").
// Built on nlohmann::json parsed with exceptions off.

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

// A position in a document: the value (possibly null) and its path for error messages.
class node {
 public:
  node() = default;
  node(const json* v, std::string path) : value_(v), path_(std::move(path)) {}
  explicit node(const json& root) : value_(&root) {}

  bool exists() const { return value_ && !value_->is_null(); }
  bool is_object() const { return value_ && value_->is_object(); }
  bool is_array() const { return value_ && value_->is_array(); }
  const std::string& path() const { return path_; }
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

 private:
  const json* value_ = nullptr;
  std::string path_;
};

}  // namespace omni::connectors::payload
