#include "core/json/parse.h"

namespace omni::core {

std::optional<std::size_t> json_too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced input is the parser's to report
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

result<nlohmann::json> parse_json(std::string_view text, std::size_t max_depth) {
  using json = nlohmann::json;
  if (auto at = json_too_deep(text, max_depth)) {
    return error{"JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                     std::to_string(*at) + ")",
                 ""};
  }
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) return doc;
  // Parsed again with exceptions, on the error path only, for the position and the reason.
  try {
    json again = json::parse(text.begin(), text.end());
    (void)again;
  } catch (const json::parse_error& e) {
    // what(): "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error
    // while parsing value - ..."; the bracketed id and "parse error" say nothing to a reader.
    std::string_view what = e.what();
    constexpr std::string_view marker = "parse error ";
    if (auto p = what.find(marker); p != std::string_view::npos)
      what.remove_prefix(p + marker.size());
    return error{"malformed JSON " + std::string(what), ""};
  } catch (const std::exception&) {
  }
  return error{"malformed JSON", ""};
}

}  // namespace omni::core
