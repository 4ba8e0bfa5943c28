#pragma once
// Configuration errors with the position they were found at, collected rather than thrown so that
// `omniroute check-config FILE` can show every mistake in one run.

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace YAML {
class Mark;
}

namespace omni::config {

// One error in a configuration file. `line` and `column` are 1-based; both are 0 when the error has
// no position (the file could not be read at all). Formats as `file:line:col: message`.
struct diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  bool operator==(const diagnostic&) const = default;
};

// `file:line:col: message`, or `file: message` when there is no position.
std::string to_string(const diagnostic& d);
std::ostream& operator<<(std::ostream& out, const diagnostic& d);

// The sink every reader of one load reports into. Owned by whoever runs the load (the config
// loader, `check-config`, a connector factory's caller); readers keep a pointer to it, so it must
// outlive them. Not thread-safe: configuration is read on the startup thread.
class diagnostics {
 public:
  void add(diagnostic d);
  // Reports `message` at a yaml-cpp mark (0-based, converted to 1-based here; a null mark gives no
  // position).
  void error(const std::string& file, const YAML::Mark& mark, std::string message);

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const std::vector<diagnostic>& items() const { return items_; }

  // The errors ordered by file, line and column (stable for equal positions); the sink is left
  // empty.
  std::vector<diagnostic> take_sorted();

 private:
  std::vector<diagnostic> items_;
};

}  // namespace omni::config
