#include "connectors/payload.h"

#include <charconv>
#include <cstring>

namespace omni::connectors::payload {

core::result<json> parse(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) return doc;
  try {
    json again = json::parse(body.begin(), body.end());
    (void)again;
  } catch (const json::parse_error& e) {
    return core::error{std::string("malformed JSON: ") + e.what(), ""};
  } catch (...) {
  }
  return core::error{"malformed JSON", ""};
}

void node::append_path(std::string_view piece) {
  if (long_path_.empty() && path_length_ + piece.size() <= path_.size()) {
    std::memcpy(path_.data() + path_length_, piece.data(), piece.size());
    path_length_ = static_cast<std::uint8_t>(path_length_ + piece.size());
    return;
  }
  if (long_path_.empty()) long_path_.assign(path_.data(), path_length_);
  long_path_ += piece;
}

node node::operator[](std::string_view key) const {
  node child = *this;
  if (!child.path().empty()) child.append_path(".");
  child.append_path(key);
  child.value_ = nullptr;
  if (is_object()) {
    auto it = value_->find(key);
    if (it != value_->end()) child.value_ = &*it;
  }
  return child;
}

node node::at(std::size_t i) const {
  node child = *this;
  char index[24];
  index[0] = '[';
  auto end = std::to_chars(index + 1, index + sizeof index - 1, i).ptr;
  *end++ = ']';
  child.append_path(std::string_view(index, static_cast<std::size_t>(end - index)));
  child.value_ = is_array() && i < value_->size() ? &(*value_)[i] : nullptr;
  return child;
}

std::optional<std::string> node::text() const {
  if (!value_) return std::nullopt;
  if (value_->is_string()) return value_->get<std::string>();
  if (value_->is_number_integer()) return std::to_string(value_->get<std::int64_t>());
  if (value_->is_number_unsigned()) return std::to_string(value_->get<std::uint64_t>());
  return std::nullopt;
}

std::optional<std::int64_t> node::integer() const {
  if (!value_) return std::nullopt;
  if (value_->is_number_integer()) return value_->get<std::int64_t>();
  if (value_->is_string()) {
    const auto& s = value_->get_ref<const std::string&>();
    try {
      std::size_t pos = 0;
      long long v = std::stoll(s, &pos);
      if (pos == s.size()) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

core::error node::missing(std::string_view what) const {
  return core::error{std::string(what), std::string(path())};
}

core::result<std::string> node::required_text() const {
  if (!exists()) return missing();
  if (auto t = text()) return *t;
  return missing(std::string("must be a string, got ") + value_->type_name());
}

core::result<std::int64_t> node::required_integer() const {
  if (!exists()) return missing();
  if (auto t = integer()) return *t;
  return missing(std::string("must be an integer, got ") + value_->type_name());
}

}  // namespace omni::connectors::payload
