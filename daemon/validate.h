#pragma once
// One check of a loaded configuration, shared by `serve` (before anything starts), SIGHUP (before
// anything changes) and `check-config`, so the three accept and refuse the same files. Each
// section is checked by the parser that will use it: every connector entry by its channel's
// factory (no I/O), `routing` by the router's parser (engine cross-checks included), `gateway` by
// the gateway's. The file's own checks (YAML, types, unknown keys) happened in config::load_*.

#include <optional>
#include <vector>

#include "config/config.h"
#include "routing/desk/config.h"
#include "routing/service/config.h"

namespace omni::daemon {

struct validate_options {
  // The packaged profile (`check-config --production`): demo credentials are errors.
  bool production = false;
};

struct validation {
  // The parsed sections; meaningful only when ok().
  routing::service::router_config routing;
  routing::desk::gateway_config gateway;
  std::vector<config::diagnostic> errors;  // every problem, sorted by position

  bool ok() const { return errors.empty(); }
};

validation validate(const config::omniroute_config& cfg, validate_options o = {});

}  // namespace omni::daemon
