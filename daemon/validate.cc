#include "daemon/validate.h"

#include "connectors/registry.h"

namespace omni::daemon {

validation validate(const config::omniroute_config& cfg, validate_options o) {
  validation v;
  config::diagnostics sink;
  (void)connectors::create_all(cfg, sink, connectors::context{});
  v.routing = routing::service::parse_router_config(cfg.routing, sink);
  v.gateway = routing::desk::parse_gateway_config(cfg.gateway, sink, o.production);
  v.errors = sink.take_sorted();
  return v;
}

}  // namespace omni::daemon
