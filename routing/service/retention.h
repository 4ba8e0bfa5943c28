#pragma once
// What the broker's settings of the router's topics must allow for recovery from snapshots
// (README.md, "Retention"), checked by the daemon at start against the broker's DescribeConfigs.

#include <map>
#include <string>
#include <vector>

#include "core/bus/bus.h"
#include "routing/service/config.h"

namespace omni::routing::service {

// One sentence per problem with `configs` (topic -> setting -> value, as topic_configs() answers);
// empty when there is none. Topics missing from `configs` are not judged.
std::vector<std::string> retention_problems(
    const core::bus::topic_names& topics,
    const std::map<std::string, std::map<std::string, std::string>>& configs,
    const router_config& config);

}  // namespace omni::routing::service
