// Fuzzes the generic JSON hook's mapper (defaults, id check, batches, core::decode_contact): any
// body either maps to contacts that survive the wire codec after clamping, or to an error value.
// Never a crash, a hang or an exception.
#include <cstdlib>

#include "connectors/generic/generic_connector.h"
#include "core/events/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::generic::provider p(
      {"fuzz", {"whsec-0123456789abcdef"}, {}, {"generic", "crm"}, {"acme"}});
  omni::core::http::request req;
  req.verb = omni::core::http::method::post;
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto mapped = p.map(req, 1);
  if (!mapped) return 0;
  for (auto c : mapped->contacts) {
    if (c.id != omni::core::contact_id(c.provider, c.source_id)) std::abort();
    omni::core::clamp_to_limits(c);
    if (!omni::core::decode_contact(omni::core::encode(c))) std::abort();
  }
  return 0;
}
