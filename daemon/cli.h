#pragma once
// The `omniroute` command line: serve, check-config, dev-kafka, version, help.
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.

namespace omni::daemon {

int run_cli(int argc, char** argv);

}  // namespace omni::daemon
