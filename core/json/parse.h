#pragma once
// Reading JSON that comes from outside the process (webhooks, WebSocket messages, Kafka records,
// tokens) into an nlohmann tree, with the limits checked before any recursive walk.
//
// nlohmann parses iteratively, but dumping, copying and comparing a tree recurse once per level:
// input nested a million levels deep would overflow the reading thread's stack. So every parse of
// outside input goes through parse_json(), which measures the nesting first, in one pass over the
// bytes, and refuses anything deeper than max_depth. Its errors name the position and the reason
// in plain words ("malformed JSON at line 1, column 5: syntax error ..."), not the library's
// exception ids.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace omni::core {

// Deeper than any event, provider payload or desk message we read (they nest under 16 levels);
// far below what a thread's stack survives in any walk of the tree.
inline constexpr std::size_t default_json_depth = 256;

// The byte offset at which `text` opens its (max_depth + 1)-th nested array or object, if it
// does; brackets inside strings do not count. One pass, no allocation.
std::optional<std::size_t> json_too_deep(std::string_view text,
                                         std::size_t max_depth = default_json_depth);

// Parses `text`. Errors: "nested deeper than N levels (at byte B)", "malformed JSON at line L,
// column C: <reason>".
result<nlohmann::json> parse_json(std::string_view text,
                                  std::size_t max_depth = default_json_depth);

}  // namespace omni::core
