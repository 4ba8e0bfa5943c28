#pragma once
// Command-line option values, shared by the `omniroute` subcommands (cli.cc, simulate.cc).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace omni::daemon {

// Reads "--name VALUE" or "--name=VALUE" at args[i]; advances i past the value. False when
// args[i] is another option, or `--name` is the last argument (no value).
inline bool take_value(const std::vector<std::string>& args, std::size_t& i, std::string_view name,
                       std::string& out) {
  const std::string& a = args[i];
  if (a == name) {
    if (i + 1 >= args.size()) return false;
    out = args[++i];
    return true;
  }
  if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
    out = a.substr(name.size() + 1);
    return true;
  }
  return false;
}

}  // namespace omni::daemon
