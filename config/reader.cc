#include "config/reader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/secrets.h"

namespace omni::config {

// Shared by every copy of one reader. Children made by child()/list()/entries() are kept in
// `members` so finish() can walk the whole tree that was read.
struct reader::state {
  YAML::Node node;
  std::string file;
  std::string path;
  diagnostics* sink = nullptr;
  YAML::Mark anchor;               // where errors about this node go when it has no mark itself
  std::vector<std::string> known;  // keys asked for, in the order asked
  bool deferred = false;
  bool finished = false;
  bool map_checked = false;
  bool map_ok = false;
  std::map<std::string, std::shared_ptr<state>, std::less<>> values;  // child() / entries()
  std::map<std::string, std::vector<std::shared_ptr<state>>, std::less<>> lists;
  std::vector<std::shared_ptr<state>> members;
};

namespace {

bool is_set(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

const char* kind_of(const YAML::Node& node) {
  if (!is_set(node)) return "nothing";
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  return "a scalar";
}

std::string join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string prefixed(const std::string& path, std::string message) {
  if (path.empty()) return message;
  return path + ": " + message;
}

struct found_key {
  YAML::Node key;
  YAML::Node value;
};

// The first entry of `map` whose key is the scalar `key` (maps are small: a scan is fine, and it
// never inserts, unlike YAML::Node::operator[]).
std::optional<found_key> find(const YAML::Node& map, std::string_view key) {
  if (!map.IsDefined() || !map.IsMap()) return std::nullopt;
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return found_key{kv.first, kv.second};
  }
  return std::nullopt;
}

std::string join_names(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

template <class Int>
std::optional<Int> parse_integer(std::string_view text, bool& out_of_range) {
  out_of_range = false;
  Int value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    out_of_range = true;
    return std::nullopt;
  }
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<subtree> parse_yaml(std::string_view text, const std::string& file,
                                  diagnostics& sink) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.size() > 1) {
      sink.error(file, docs[1].Mark(),
                 "expected one YAML document, found " + std::to_string(docs.size()) +
                     " (remove the '---')");
      return std::nullopt;
    }
    return subtree{docs.empty() ? YAML::Node() : docs[0], file, ""};
  } catch (const YAML::Exception& e) {
    sink.error(file, e.mark, "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    sink.add({.file = file, .message = std::string("cannot parse YAML: ") + e.what()});
  }
  return std::nullopt;
}

std::optional<subtree> parse_yaml_file(const std::filesystem::path& path, diagnostics& sink) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno != 0 ? errno : ENOENT;
    sink.add({.file = path.string(), .message = std::string("cannot read: ") + std::strerror(err)});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    sink.add({.file = path.string(), .message = "cannot read: I/O error"});
    return std::nullopt;
  }
  return parse_yaml(std::move(text).str(), path.string(), sink);
}

reader::reader(subtree tree, diagnostics& sink) : state_(std::make_shared<state>()) {
  state_->node.reset(tree.node);  // rebind: Node::operator= would write through
  state_->file = std::move(tree.file);
  state_->path = std::move(tree.path);
  state_->sink = &sink;
  if (state_->node.IsDefined() && !state_->node.IsNull() && !state_->node.Mark().is_null()) {
    state_->anchor = state_->node.Mark();
  }
}

reader::reader(std::shared_ptr<state> s) : state_(std::move(s)) {}

const std::string& reader::file() const { return state_->file; }
diagnostics& reader::sink() const { return *state_->sink; }
const std::string& reader::path() const { return state_->path; }
const YAML::Node& reader::node() const { return state_->node; }
subtree reader::tree() const { return subtree{state_->node, state_->file, state_->path}; }
bool reader::is_set() const { return config::is_set(state_->node); }

void reader::accept(std::string_view key) {
  auto& known = state_->known;
  if (std::find(known.begin(), known.end(), key) == known.end()) known.emplace_back(key);
}

void reader::accept(std::initializer_list<std::string_view> keys) {
  for (auto key : keys) accept(key);
}

void reader::error(std::string message) {
  state_->sink->error(state_->file, state_->anchor, prefixed(state_->path, std::move(message)));
}

void reader::error(std::string_view key, std::string message) {
  YAML::Mark mark = state_->anchor;
  if (auto f = find(state_->node, key)) {
    mark = config::is_set(f->value) ? f->value.Mark() : f->key.Mark();
  }
  state_->sink->error(state_->file, mark, prefixed(join(state_->path, key), std::move(message)));
}

bool reader::check_map() {
  if (state_->map_checked) return state_->map_ok;
  state_->map_checked = true;
  const YAML::Node& node = state_->node;
  if (!config::is_set(node)) return state_->map_ok = true;
  if (!node.IsMap()) {
    error(state_->path.empty() ? std::string("the top level must be a map, got ") + kind_of(node)
                               : std::string("expected a map, got ") + kind_of(node));
    return state_->map_ok = false;
  }
  std::map<std::string, YAML::Mark, std::less<>> seen;
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      state_->sink->error(state_->file, key.Mark(),
                          prefixed(state_->path, "map keys must be plain strings"));
      continue;
    }
    auto [pos, inserted] = seen.emplace(key.Scalar(), key.Mark());
    if (!inserted) {
      state_->sink->error(
          state_->file, key.Mark(),
          prefixed(state_->path, "duplicate key '" + key.Scalar() + "' (first set on line " +
                                     std::to_string(pos->second.line + 1) + ")"));
    }
  }
  return state_->map_ok = true;
}

reader reader::make_child(const YAML::Node& node, std::string path, const YAML::Mark& anchor) {
  auto s = std::make_shared<state>();
  s->node.reset(node);
  s->file = state_->file;
  s->path = std::move(path);
  s->sink = state_->sink;
  s->anchor = config::is_set(node) && !node.Mark().is_null() ? node.Mark() : anchor;
  return reader(std::move(s));
}

bool reader::has(std::string_view key) {
  accept(key);
  if (!check_map()) return false;
  auto f = find(state_->node, key);
  return f && config::is_set(f->value);
}

std::optional<reader> reader::lookup(std::string_view key, bool required) {
  accept(key);
  if (!check_map()) return std::nullopt;
  auto f = find(state_->node, key);
  if (!f || !config::is_set(f->value)) {
    if (required && !f) {
      error("missing required key '" + std::string(key) + "'");
    } else if (required) {
      state_->sink->error(state_->file, f->key.Mark(),
                          prefixed(join(state_->path, key), "missing value"));
    }
    return std::nullopt;
  }
  return make_child(f->value, join(state_->path, key), f->key.Mark());
}

reader reader::child(std::string_view key) {
  if (auto it = state_->values.find(key); it != state_->values.end()) return reader(it->second);
  accept(key);
  YAML::Node value;
  YAML::Mark anchor = state_->anchor;
  if (check_map()) {
    if (auto f = find(state_->node, key)) {
      value.reset(f->value);
      anchor = f->key.Mark();
    }
  }
  reader out = make_child(value, join(state_->path, key), anchor);
  out.check_map();
  state_->values.emplace(std::string(key), out.state_);
  state_->members.push_back(out.state_);
  return out;
}

std::vector<reader> reader::list(std::string_view key) {
  std::vector<reader> out;
  if (auto it = state_->lists.find(key); it != state_->lists.end()) {
    for (const auto& s : it->second) out.push_back(reader(s));
    return out;
  }
  auto& states = state_->lists[std::string(key)];
  auto value = lookup(key, false);
  if (!value) return out;
  const YAML::Node& node = value->node();
  if (!node.IsSequence()) {
    value->error(std::string("expected a list, got ") + kind_of(node));
    return out;
  }
  const std::string base = join(state_->path, key);
  std::size_t index = 0;
  for (const auto& item : node) {
    reader element =
        make_child(item, base + "[" + std::to_string(index) + "]", value->state_->anchor);
    states.push_back(element.state_);
    state_->members.push_back(element.state_);
    out.push_back(element);
    ++index;
  }
  return out;
}

std::vector<std::pair<std::string, reader>> reader::entries(std::string_view key) {
  std::vector<std::pair<std::string, reader>> out;
  reader map = child(key);
  if (!map.check_map() || !map.is_set()) return out;
  for (const auto& kv : map.node()) {
    if (!kv.first.IsScalar()) continue;
    const std::string name = kv.first.Scalar();
    map.accept(name);
    auto& slot = map.state_->values[name];
    if (!slot) {
      slot = map.make_child(kv.second, join(map.path(), name), kv.first.Mark()).state_;
      map.state_->members.push_back(slot);
    }
    out.emplace_back(name, reader(slot));
  }
  return out;
}

std::map<std::string, std::string> reader::string_map(std::string_view key) {
  std::map<std::string, std::string> out;
  for (auto& [name, value] : entries(key)) {
    if (auto text = value.as<std::string>()) out[name] = std::move(*text);
  }
  return out;
}

subtree reader::raw(std::string_view key) {
  accept(key);
  subtree out{YAML::Node(), state_->file, join(state_->path, key)};
  if (check_map()) {
    if (auto f = find(state_->node, key)) out.node.reset(f->value);
  }
  return out;
}

subtree reader::defer() {
  state_->deferred = true;
  return tree();
}

void reader::finish() {
  if (state_->finished) return;
  state_->finished = true;
  // Only maps have keys to judge; a scalar list element or entry value has nothing to report here.
  if (!state_->deferred && state_->node.IsDefined() && state_->node.IsMap() && check_map()) {
    const auto& known = state_->known;
    for (const auto& kv : state_->node) {
      if (!kv.first.IsScalar()) continue;
      const std::string key = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "unknown key '" + key + "'";
      if (!state_->path.empty()) message += " in '" + state_->path + "'";
      if (auto suggestion = closest_match(key, known)) {
        message += "; did you mean '" + *suggestion + "'?";
      } else if (!known.empty()) {
        std::vector<std::string_view> names(known.begin(), known.end());
        message += " (known keys: " + join_names(names) + ")";
      }
      state_->sink->error(state_->file, kv.first.Mark(), std::move(message));
    }
  }
  for (const auto& member : state_->members) reader(member).finish();
}

std::optional<std::string> reader::scalar(std::string_view expected) {
  const YAML::Node& node = state_->node;
  if (!config::is_set(node) || !node.IsScalar()) {
    error("expected " + std::string(expected) + ", got " + kind_of(node));
    return std::nullopt;
  }
  secret_expansion expanded = expand_secrets(node.Scalar());
  if (!expanded.value) {
    error(std::move(expanded.error));
    return std::nullopt;
  }
  return std::move(expanded.value);
}

std::optional<std::size_t> reader::as_choice(const std::vector<std::string_view>& names) {
  auto text = scalar("one of " + join_names(names));
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *text) return i;
  }
  std::string message =
      "unknown value '" + state_->node.Scalar() + "'; expected one of: " + join_names(names);
  if (auto suggestion =
          closest_match(*text, std::vector<std::string>(names.begin(), names.end()))) {
    message += "; did you mean '" + *suggestion + "'?";
  }
  error(std::move(message));
  return std::nullopt;
}

template <config_value T>
std::optional<T> reader::as() {
  // Reports "expected <what>, got '<raw>'"; the raw text is shown, never an expanded secret.
  const auto wrong = [this](std::string_view what) {
    std::string shown = "'" + state_->node.Scalar() + "'";
    if (has_secret_reference(state_->node.Scalar())) shown += " (after substitution)";
    error("expected " + std::string(what) + ", got " + shown);
    return std::nullopt;
  };

  if constexpr (std::same_as<T, std::vector<std::string>>) {
    const YAML::Node& node = state_->node;
    if (!node.IsDefined() || !node.IsSequence()) {
      error(std::string("expected a list of strings, got ") + kind_of(node));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    std::size_t index = 0;
    for (const auto& item : node) {
      reader element =
          make_child(item, state_->path + "[" + std::to_string(index) + "]", state_->anchor);
      if (auto text = element.scalar("a string")) {
        out.push_back(std::move(*text));
      } else {
        ok = false;
      }
      ++index;
    }
    if (!ok) return std::nullopt;
    return out;
  } else {
    constexpr std::string_view expected =
        std::same_as<T, std::string>                 ? "a string"
        : std::same_as<T, bool>                      ? "a boolean (true or false)"
        : std::same_as<T, int>                       ? "an integer"
        : std::same_as<T, std::int64_t>              ? "an integer"
        : std::same_as<T, double>                    ? "a number"
        : std::same_as<T, std::chrono::milliseconds> ? "a duration such as 250ms, 30s, 5m or 72h"
        : std::same_as<T, byte_size>                 ? "a byte size such as 1000, 64KiB or 1MiB"
                                                     : "an address host:port";
    auto text = scalar(expected);
    if (!text) return std::nullopt;
    if constexpr (std::same_as<T, std::string>) {
      return text;
    } else if constexpr (std::same_as<T, bool>) {
      if (*text == "true" || *text == "True" || *text == "TRUE") return true;
      if (*text == "false" || *text == "False" || *text == "FALSE") return false;
      return wrong(expected);
    } else if constexpr (std::same_as<T, int> || std::same_as<T, std::int64_t>) {
      bool out_of_range = false;
      if (auto value = parse_integer<T>(*text, out_of_range)) return value;
      if (out_of_range) {
        error("integer '" + state_->node.Scalar() + "' is out of range (" +
              std::to_string(std::numeric_limits<T>::min()) + " to " +
              std::to_string(std::numeric_limits<T>::max()) + ")");
        return std::nullopt;
      }
      return wrong(expected);
    } else if constexpr (std::same_as<T, double>) {
      double value = 0;
      auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
      if (ec != std::errc{} || ptr != text->data() + text->size() || !std::isfinite(value)) {
        return wrong(expected);
      }
      return value;
    } else if constexpr (std::same_as<T, std::chrono::milliseconds>) {
      if (auto value = parse_duration(*text)) return value;
      return wrong(expected);
    } else if constexpr (std::same_as<T, byte_size>) {
      if (auto value = parse_byte_size(*text)) return value;
      return wrong(expected);
    } else {
      if (auto value = parse_address(*text)) return value;
      return wrong(expected);
    }
  }
}

template std::optional<std::string> reader::as<std::string>();
template std::optional<bool> reader::as<bool>();
template std::optional<int> reader::as<int>();
template std::optional<std::int64_t> reader::as<std::int64_t>();
template std::optional<double> reader::as<double>();
template std::optional<std::vector<std::string>> reader::as<std::vector<std::string>>();
template std::optional<std::chrono::milliseconds> reader::as<std::chrono::milliseconds>();
template std::optional<byte_size> reader::as<byte_size>();
template std::optional<address> reader::as<address>();

}  // namespace omni::config
