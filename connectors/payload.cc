#include "connectors/payload.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include <type_traits>
#include "core/json/parse.h"

namespace omni::connectors::payload {

namespace dom = simdjson::dom;

static_assert(sizeof(dom::element) == node::element_bytes);
static_assert(alignof(dom::element) <= 8);
static_assert(std::is_trivially_copyable_v<dom::element>);

struct document::impl {
  dom::document doc;
  dom::element root;
};

document::document(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
document::document(document&&) noexcept = default;
document& document::operator=(document&&) noexcept = default;
document::~document() = default;

namespace {

// simdjson reads up to SIMDJSON_PADDING bytes past the end: the body is copied into a per-thread
// buffer with that much room (a request body's string has no such guarantee).
simdjson::error_code parse_into(document::impl& out, std::string_view body) {
  thread_local dom::parser parser;  // stage-1 index buffers, grown to the largest body seen
  thread_local std::string padded;
  if (padded.size() < body.size() + simdjson::SIMDJSON_PADDING)
    padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded.data(), body.data(), body.size());
  std::memset(padded.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  return parser
      .parse_into_document(out.doc, reinterpret_cast<const std::uint8_t*>(padded.data()),
                           body.size(), /*realloc_if_needed=*/false)
      .get(out.root);
}

dom::element element_of(const std::array<std::byte, node::element_bytes>& bytes) {
  dom::element e;
  std::memcpy(static_cast<void*>(&e), bytes.data(), sizeof e);
  return e;
}

void store(std::array<std::byte, node::element_bytes>& bytes, const dom::element& e) {
  std::memcpy(bytes.data(), static_cast<const void*>(&e), sizeof e);
}

}  // namespace

core::result<nlohmann::json> parse_tree(std::string_view body) { return core::parse_json(body); }

core::result<document> parse(std::string_view body) {
  auto p = std::make_unique<document::impl>();
  const auto code = parse_into(*p, body);
  if (code == simdjson::SUCCESS) return document(std::move(p));
  // simdjson refused it: nlohmann says where it is broken, or reads what is valid JSON beyond
  // simdjson (an integer over 64 bits, read as a double), and its text is what gets mapped.
  auto tree = parse_tree(body);
  if (!tree) return tree.err();
  const std::string text = tree->dump();
  if (parse_into(*p, text) != simdjson::SUCCESS)
    return core::error{std::string("unreadable JSON: ") + simdjson::error_message(code), ""};
  return document(std::move(p));
}

node::node(const document& doc) : present_(true) { store(element_, doc.impl_->root); }

void node::append_path(std::string_view piece) {
  if (long_path_.empty() && path_length_ + piece.size() <= path_.size()) {
    std::memcpy(path_.data() + path_length_, piece.data(), piece.size());
    path_length_ = static_cast<std::uint8_t>(path_length_ + piece.size());
    return;
  }
  if (long_path_.empty()) long_path_.assign(path_.data(), path_length_);
  long_path_ += piece;
}

bool node::exists() const { return present_ && !element_of(element_).is_null(); }
bool node::is_object() const { return present_ && element_of(element_).is_object(); }
bool node::is_array() const { return present_ && element_of(element_).is_array(); }

std::string_view node::type_name() const {
  if (!present_) return "absent";
  switch (element_of(element_).type()) {
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "number";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

node node::operator[](std::string_view key) const {
  node child = *this;
  if (!child.path().empty()) child.append_path(".");
  child.append_path(key);
  child.present_ = false;
  dom::object obj;
  dom::element value;
  if (present_ && element_of(element_).get(obj) == simdjson::SUCCESS &&
      obj.at_key(key).get(value) == simdjson::SUCCESS) {
    child.present_ = true;
    store(child.element_, value);
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
  child.present_ = false;
  dom::array arr;
  dom::element value;
  if (present_ && element_of(element_).get(arr) == simdjson::SUCCESS &&
      arr.at(i).get(value) == simdjson::SUCCESS) {
    child.present_ = true;
    store(child.element_, value);
  }
  return child;
}

std::size_t node::size() const {
  dom::array arr;
  if (!present_ || element_of(element_).get(arr) != simdjson::SUCCESS) return 0;
  return arr.size();
}

std::optional<std::string> node::text() const {
  if (!present_) return std::nullopt;
  const dom::element e = element_of(element_);
  switch (e.type()) {
    case dom::element_type::STRING:
      return std::string(e.get_string().value_unsafe());
    case dom::element_type::INT64:
      return std::to_string(e.get_int64().value_unsafe());
    case dom::element_type::UINT64:
      return std::to_string(e.get_uint64().value_unsafe());
    default:
      return std::nullopt;
  }
}

std::optional<std::int64_t> node::integer() const {
  if (!present_) return std::nullopt;
  const dom::element e = element_of(element_);
  if (e.type() == dom::element_type::INT64) return e.get_int64().value_unsafe();
  if (e.type() == dom::element_type::STRING) {
    const std::string_view s = e.get_string().value_unsafe();
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return v;
  }
  return std::nullopt;
}

std::optional<bool> node::boolean() const {
  bool b = false;
  if (!present_ || element_of(element_).get(b) != simdjson::SUCCESS) return std::nullopt;
  return b;
}

std::optional<std::string> node::number_text() const {
  if (!present_) return std::nullopt;
  const dom::element e = element_of(element_);
  switch (e.type()) {
    case dom::element_type::INT64:
      return std::to_string(e.get_int64().value_unsafe());
    case dom::element_type::UINT64:
      return std::to_string(e.get_uint64().value_unsafe());
    case dom::element_type::DOUBLE: {
      char buf[32];
      auto end = std::to_chars(buf, buf + sizeof buf, e.get_double().value_unsafe()).ptr;
      std::string out(buf, end);
      if (out.find_first_of(".e") == std::string::npos) out += ".0";
      return out;
    }
    default:
      return std::nullopt;
  }
}

std::string node::first_key_except(std::initializer_list<std::string_view> skip) const {
  dom::object obj;
  if (!present_ || element_of(element_).get(obj) != simdjson::SUCCESS) return "";
  for (auto [key, value] : obj) {
    (void)value;
    if (std::find(skip.begin(), skip.end(), key) == skip.end()) return std::string(key);
  }
  return "";
}

core::error node::missing(std::string_view what) const {
  return core::error{std::string(what), std::string(path())};
}

core::result<std::string> node::required_text() const {
  if (!exists()) return missing();
  if (auto t = text()) return *t;
  return missing(std::string("must be a string, got ") + std::string(type_name()));
}

core::result<std::int64_t> node::required_integer() const {
  if (!exists()) return missing();
  if (auto t = integer()) return *t;
  return missing(std::string("must be an integer, got ") + std::string(type_name()));
}

}  // namespace omni::connectors::payload
