// Every built-in connector factory validates the example entry in
// config/examples/all-connectors.yaml with an empty context (no io_context, no publisher): what
// `omniroute check-config` does. A factory that builds live clients while validating crashes here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "config/config.h"
#include "connectors/connector.h"
#include "connectors/registry.h"

namespace omni::connectors {
namespace {

std::string examples_file() {
  const char* src = std::getenv("OMNI_SOURCE_DIR");
  return std::string(src ? src : ".") + "/config/examples/all-connectors.yaml";
}

TEST(ConnectorExamples, EveryFactoryValidatesItsExampleWithoutAnIoContext) {
  auto loaded = config::load_file(examples_file());
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : config::to_string(loaded.errors[0]));
  std::set<std::string> have;
  for (const auto& e : loaded.config->connectors) have.insert(e.type);
  for (const auto& f : factories())
    EXPECT_TRUE(have.count(std::string(f->type())))
        << "config/examples/all-connectors.yaml has no '" << f->type() << "' entry";

  config::diagnostics sink;
  auto created = create_all(*loaded.config, sink, context{});
  auto errors = sink.take_sorted();
  for (const auto& d : errors) ADD_FAILURE() << config::to_string(d);
  EXPECT_EQ(created.size(), loaded.config->connectors.size());
  // Destroying connectors that were never started must not touch an io_context either.
  created.clear();
}

}  // namespace
}  // namespace omni::connectors
