#pragma once
// The version compiled into the binary (from CMake's project version and the git commit).

#include <string>

namespace omni::daemon {

std::string version_string();

}  // namespace omni::daemon
