#include "connectors/payload.h"

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

node node::operator[](std::string_view key) const {
  std::string p = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!is_object()) return node(nullptr, std::move(p));
  auto it = value_->find(key);
  return node(it == value_->end() ? nullptr : &*it, std::move(p));
}

node node::at(std::size_t i) const {
  std::string p = path_ + "[" + std::to_string(i) + "]";
  if (!is_array() || i >= value_->size()) return node(nullptr, std::move(p));
  return node(&(*value_)[i], std::move(p));
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
  return core::error{std::string(what), path_};
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
