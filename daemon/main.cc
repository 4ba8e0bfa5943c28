// omniroute: one binary, several subcommands. Everything lives in daemon/cli.cc and the modules.
#include "daemon/cli.h"

int main(int argc, char** argv) { return omni::daemon::run_cli(argc, argv); }
