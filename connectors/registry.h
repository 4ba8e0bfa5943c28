#pragma once
// The built-in connectors, listed explicitly in registry.cc (one line per channel; no
// static-initializer registration, which static libraries silently drop).

#include <memory>
#include <string_view>
#include <vector>

#include "connectors/connector.h"

namespace omni::connectors {

const factory_list& factories();
const connector_factory* find_factory(std::string_view type);

// Creates every configured connector. Unknown types and invalid entries are reported to `sink`
// (with a "did you mean" for near-miss types); returns only the valid ones.
std::vector<std::unique_ptr<connector>> create_all(const config::omniroute_config& cfg,
                                                   config::diagnostics& sink, const context& ctx);

}  // namespace omni::connectors
