#pragma once
// Shared by the connectors' tests: a channel's fixture file, and the configuration errors of a
// `connectors:` YAML list.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "connectors/registry.h"

namespace omni::connectors::test_support {

// tests/connectors/<channel>/fixtures/<name>, from the source tree ctest names in OMNI_SOURCE_DIR.
inline std::string fixture(const std::string& channel, const std::string& name) {
  const char* dir = std::getenv("OMNI_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/tests/connectors/" + channel + "/fixtures/" +
                   name);
  EXPECT_TRUE(in.good()) << channel << "/" << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Builds the connectors of a `connectors:` YAML list (no I/O) and returns every configuration
// error, sorted by position.
inline std::vector<config::diagnostic> config_errors(const std::string& connectors_yaml) {
  auto loaded = config::load_string("connectors:\n" + connectors_yaml, "c.yaml");
  EXPECT_TRUE(loaded.ok());
  config::diagnostics sink;
  auto made = create_all(*loaded.config, sink, context{});
  return sink.take_sorted();
}

}  // namespace omni::connectors::test_support
