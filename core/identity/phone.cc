#include "core/identity/phone.h"

namespace omni::core {

std::optional<std::string> international_e164(std::string_view number) {
  std::string digits;
  bool plus = false;
  for (std::size_t i = 0; i < number.size(); ++i) {
    char ch = number[i];
    if (ch >= '0' && ch <= '9') {
      digits += ch;
    } else if (ch == '+' && digits.empty() && !plus) {
      plus = true;
    } else if (ch != ' ' && ch != '-' && ch != '(' && ch != ')' && ch != '.') {
      return std::nullopt;
    }
  }
  if (!plus && digits.starts_with("00")) {
    digits.erase(0, 2);
    plus = true;
  }
  // Without '+' or 00, a leading 0 is a national trunk prefix: the country is unknown.
  if (!plus && digits.starts_with("0")) return std::nullopt;
  if (digits.size() < 8 || digits.size() > 15 || digits[0] == '0') return std::nullopt;
  return "+" + digits;
}

}  // namespace omni::core
