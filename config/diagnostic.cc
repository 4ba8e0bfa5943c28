#include "config/diagnostic.h"

#include <yaml-cpp/mark.h>

#include <algorithm>
#include <tuple>
#include <utility>

namespace omni::config {

std::string to_string(const diagnostic& d) {
  if (d.line <= 0) return d.file + ": " + d.message;
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
}

std::ostream& operator<<(std::ostream& out, const diagnostic& d) { return out << to_string(d); }

void diagnostics::add(diagnostic d) { items_.push_back(std::move(d)); }

void diagnostics::error(const std::string& file, const YAML::Mark& mark, std::string message) {
  diagnostic d{.file = file, .message = std::move(message)};
  if (!mark.is_null() && mark.line >= 0) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  add(std::move(d));
}

std::vector<diagnostic> diagnostics::take_sorted() {
  std::vector<diagnostic> out = std::move(items_);
  items_.clear();
  std::stable_sort(out.begin(), out.end(), [](const diagnostic& a, const diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  return out;
}

}  // namespace omni::config
