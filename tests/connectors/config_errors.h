#pragma once
// Shared by the connectors' tests: builds the connectors of a `connectors:` YAML list (no I/O) and
// returns every configuration error, sorted by position.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "connectors/registry.h"

namespace omni::connectors::test_support {

inline std::vector<config::diagnostic> config_errors(const std::string& connectors_yaml) {
  auto loaded = config::load_string("connectors:\n" + connectors_yaml, "c.yaml");
  EXPECT_TRUE(loaded.ok());
  config::diagnostics sink;
  auto made = create_all(*loaded.config, sink, context{});
  return sink.take_sorted();
}

}  // namespace omni::connectors::test_support
