#include "connectors/connector.h"

namespace omni::connectors {

common_settings read_common(config::reader& r) {
  common_settings c;
  c.domain = r.optional<std::string>("domain", c.domain);
  if (c.domain.empty()) r.error("domain", "must not be empty");
  return c;
}

}  // namespace omni::connectors
