#include "connectors/telephony/headers.h"

namespace omni::connectors::telephony {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

const std::string* header_list::get(std::string_view key) const {
  for (const auto& [k, v] : fields)
    if (iequals(k, key)) return &v;
  return nullptr;
}

std::string header_list::value(std::string_view key) const {
  const std::string* v = get(key);
  return v ? *v : std::string();
}

}  // namespace omni::connectors::telephony
