#pragma once
// `Name: value` header blocks as the PBX management protocols send them (AMI messages, ESL
// replies and events): pairs in arrival order, names compared case-insensitively, names may repeat.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/http/message.h"

namespace omni::connectors::telephony {

struct header_list {
  std::vector<std::pair<std::string, std::string>> fields;
  // The first value of `key` (case-insensitive), or nullptr.
  const std::string* get(std::string_view key) const;
  // The first value of `key`, or "".
  std::string value(std::string_view key) const;
};

using core::http::iequals;  // ASCII case-insensitive
// Without surrounding spaces, tabs and a trailing CR.
std::string_view trim(std::string_view s);

}  // namespace omni::connectors::telephony
