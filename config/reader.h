#pragma once
// The checked YAML reader every module uses to parse its own part of the configuration.
//
//   config::diagnostics sink;
//   config::reader r(tree, sink);                 // tree: a config::subtree
//   cfg.mailbox = r.required<std::string>("mailbox");
//   cfg.poll = r.optional<std::chrono::milliseconds>("poll_interval", 30s);
//   config::reader tls = r.child("tls");          // nested map (absent = empty)
//   r.finish();                                   // unknown keys here and below become errors
//   if (!sink.empty()) ... every error, as file:line:col: message
//
// A value of the wrong type, a missing required key, an unknown key (with "did you mean") and a
// secret reference that cannot be resolved are all reported to the sink with the value's position;
// the reader then returns the fallback (or a value-initialized T) and carries on, so one pass finds
// every error. Nothing here throws.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostic.h"
#include "config/values.h"

namespace omni::config {

// A piece of a configuration document kept for a later reader: the node, the file it came from and
// its path in the document ("connectors[0]"), so errors found later still say file:line:col.
// Copying is cheap (YAML::Node is a handle). Assignment rebinds the handle: YAML::Node's own
// operator= would instead overwrite the node it already refers to, inside the other document.
struct subtree {
  subtree() = default;
  subtree(const YAML::Node& n, std::string f, std::string p)
      : node(n), file(std::move(f)), path(std::move(p)) {}
  subtree(const subtree&) = default;
  subtree(subtree&&) = default;
  subtree& operator=(const subtree& other) {
    node.reset(other.node);
    file = other.file;
    path = other.path;
    return *this;
  }
  subtree& operator=(subtree&& other) { return *this = static_cast<const subtree&>(other); }
  ~subtree() = default;

  YAML::Node node;
  std::string file;
  std::string path;

  // True when the key was absent or empty (`key:` with no value).
  bool empty() const { return !node.IsDefined() || node.IsNull(); }
};

// Parses one YAML document. A syntax error becomes one diagnostic at its position and nullopt; an
// empty document is a null node (which readers treat as an empty map).
std::optional<subtree> parse_yaml(std::string_view text, const std::string& file,
                                  diagnostics& sink);
// Reads and parses a file; an unreadable file is one diagnostic without a position.
std::optional<subtree> parse_yaml_file(const std::filesystem::path& path, diagnostics& sink);

// The types required<T>, optional<T> and as<T> convert to. Every scalar is secret-expanded first.
//   std::string                any scalar
//   bool                       true / false
//   int, std::int64_t          decimal integer, range-checked
//   double                     decimal number
//   std::vector<std::string>   a list of scalars
//   std::chrono::milliseconds  a duration: 250ms, 30s, 5m, 72h, 1h30m (bare 0 only; see values.h)
//   byte_size                  1000, 64KiB, 1MiB, 10MB
//   address                    host:port or [ipv6]:port
template <class T>
concept config_value = std::same_as<T, std::string> || std::same_as<T, bool> ||
    std::same_as<T, int> || std::same_as<T, std::int64_t> || std::same_as<T, double> ||
    std::same_as<T, std::vector<std::string>> || std::same_as<T, std::chrono::milliseconds> ||
    std::same_as<T, byte_size> || std::same_as<T, address>;

// One allowed spelling of an enum value, for required_enum / optional_enum / as_enum.
template <class E>
struct choice {
  std::string_view name;
  E value;
};

// A view of one YAML node (usually a map) that converts values with positions in its errors and
// remembers which keys were asked for, so finish() can report the others as unknown. Copies share
// that state. Lives on the startup thread; the diagnostics sink must outlive it.
class reader {
 public:
  reader(subtree tree, diagnostics& sink);

  const std::string& file() const;
  // The sink errors go to (compare its size() before and after a read to see if the read failed).
  diagnostics& sink() const;
  // Dotted path of this node in the document: "" for the root, "kafka", "connectors[1]".
  const std::string& path() const;
  const YAML::Node& node() const;
  // This node as a subtree, for keeping it without reading it.
  subtree tree() const;

  // --- Map access. Absent keys and explicit nulls (`key:`) count as not set. ---

  // Whether the key is set. Also marks it as a key this map accepts.
  bool has(std::string_view key);

  template <config_value T>
  T required(std::string_view key) {
    if (auto value = lookup(key, true)) {
      if (auto converted = value->as<T>()) return std::move(*converted);
    }
    return T{};
  }

  template <config_value T>
  T optional(std::string_view key, T fallback) {
    if (auto value = lookup(key, false)) {
      if (auto converted = value->as<T>()) return std::move(*converted);
    }
    return fallback;
  }

  template <config_value T>
  std::optional<T> optional(std::string_view key) {
    if (auto value = lookup(key, false)) return value->as<T>();
    return std::nullopt;
  }

  template <class E, std::size_t N>
  E required_enum(std::string_view key, const choice<E> (&choices)[N]) {
    if (auto value = lookup(key, true)) {
      if (auto converted = value->as_enum(choices)) return *converted;
    }
    return choices[0].value;
  }

  template <class E, std::size_t N>
  E optional_enum(std::string_view key, const choice<E> (&choices)[N], E fallback) {
    if (auto value = lookup(key, false)) {
      if (auto converted = value->as_enum(choices)) return *converted;
    }
    return fallback;
  }

  // A nested map. Absent or null gives an empty map; a non-map value is an error (and the returned
  // reader is empty). finish() on this reader also finishes the child.
  reader child(std::string_view key);

  // The elements of a list (absent or null: none; a non-list value is an error). Each element is a
  // reader with path "key[i]"; finish() on this reader also finishes them.
  std::vector<reader> list(std::string_view key);

  // A map whose keys are chosen by the user (queue names, ...): every entry, in file order. All
  // keys count as known; each value reader is finished with this one.
  std::vector<std::pair<std::string, reader>> entries(std::string_view key);

  // A map of string to string (e.g. librdkafka properties), values secret-expanded. A non-scalar
  // value is an error.
  std::map<std::string, std::string> string_map(std::string_view key);

  // Keeps the value of `key` for a later reader without looking inside it; the key counts as known.
  subtree raw(std::string_view key);

  // Marks keys as known without reading them (they belong to someone else, e.g. a connector's
  // `type` and `name` already read by the top level).
  void accept(std::string_view key);
  void accept(std::initializer_list<std::string_view> keys);

  // Stops finish() from checking this map's keys: a later reader (a connector factory) owns them.
  // Returns this node as a subtree for that reader.
  subtree defer();

  // Reports every key of this map that no accessor asked for, with "did you mean" when one of the
  // asked-for keys is close, then does the same for every child and list element made from it.
  // Idempotent.
  void finish();

  // --- This node as a value (list elements, top-level scalars). ---

  bool is_set() const;  // defined and not null

  template <config_value T>
  std::optional<T> as();

  template <class E, std::size_t N>
  std::optional<E> as_enum(const choice<E> (&choices)[N]) {
    std::vector<std::string_view> names;
    names.reserve(N);
    for (const auto& c : choices) names.push_back(c.name);
    if (auto index = as_choice(names)) return choices[*index].value;
    return std::nullopt;
  }

  // --- Errors. ---

  // An error at this node: "path: message" (just "message" at the root).
  void error(std::string message);
  // An error about `key` of this map: at its value when set, else at this map.
  void error(std::string_view key, std::string message);

 private:
  struct state;
  explicit reader(std::shared_ptr<state> s);

  // The value reader for `key`, or nullopt when absent/null (reported if `required`). Marks the
  // key.
  std::optional<reader> lookup(std::string_view key, bool required);
  reader make_child(const YAML::Node& node, std::string path, const YAML::Mark& anchor);
  bool check_map();
  std::optional<std::string> scalar(std::string_view expected);
  std::optional<std::size_t> as_choice(const std::vector<std::string_view>& names);

  std::shared_ptr<state> state_;
};

extern template std::optional<std::string> reader::as<std::string>();
extern template std::optional<bool> reader::as<bool>();
extern template std::optional<int> reader::as<int>();
extern template std::optional<std::int64_t> reader::as<std::int64_t>();
extern template std::optional<double> reader::as<double>();
extern template std::optional<std::vector<std::string>> reader::as<std::vector<std::string>>();
extern template std::optional<std::chrono::milliseconds> reader::as<std::chrono::milliseconds>();
extern template std::optional<byte_size> reader::as<byte_size>();
extern template std::optional<address> reader::as<address>();

}  // namespace omni::config
