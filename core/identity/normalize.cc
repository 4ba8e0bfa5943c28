#include "core/identity/normalize.h"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cctype>

namespace omni::core {

namespace {
std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

identity_normalizer::identity_normalizer(std::string default_region)
    : region_(std::move(default_region)) {}

std::optional<std::string> identity_normalizer::phone_e164(std::string_view raw) const {
  using i18n::phonenumbers::PhoneNumber;
  using i18n::phonenumbers::PhoneNumberUtil;
  std::string value = trim(raw);
  std::string lowered = lower_ascii(value);
  if (value.empty() || lowered == "anonymous" || lowered == "restricted" || lowered == "unknown" ||
      lowered == "<unknown>" || lowered == "private" || lowered == "unavailable")
    return std::nullopt;
  // "00" international prefix and bare country-code digits ("79123456789", as messengers send).
  if (value.rfind("00", 0) == 0) value = "+" + value.substr(2);
  const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
  PhoneNumber number;
  if (util->Parse(value, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
      !util->IsPossibleNumber(number)) {
    if (value[0] == '+') return std::nullopt;
    // A national-looking string that is really international digits without '+'.
    if (util->Parse("+" + value, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR ||
        !util->IsPossibleNumber(number))
      return std::nullopt;
  }
  std::string out;
  util->Format(number, PhoneNumberUtil::E164, &out);
  return out;
}

std::optional<identity> identity_normalizer::normalize(const identity& id) const {
  std::string kind = lower_ascii(trim(id.kind));
  if (kind.empty()) return std::nullopt;
  if (kind == "phone") {
    auto p = phone_e164(id.value);
    if (!p) return std::nullopt;
    return identity{kind, *p};
  }
  std::string value = trim(id.value);
  if (kind == "email") value = lower_ascii(value);
  if (value.empty()) return std::nullopt;
  return identity{kind, value};
}

}  // namespace omni::core
