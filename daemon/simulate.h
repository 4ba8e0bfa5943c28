#pragma once
// `omniroute simulate`: loads the routing config(s) with the router's parser, the scenario, runs
// the simulator (routing/sim) and writes the table (stdout), the JSON report and the SVG plot.
// Called by daemon/cli.cc on the main thread. Exit codes as the rest of the CLI: 0 done, 1 runtime
// failure, 2 usage/config error.

#include <string>
#include <vector>

namespace omni::daemon {

extern const char* const simulate_help;

int run_simulate_command(const std::vector<std::string>& args);

}  // namespace omni::daemon
