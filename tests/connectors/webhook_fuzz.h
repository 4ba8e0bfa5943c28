#pragma once
// The one harness of the webhook channels' fuzz targets
// (tests/connectors/<channel>/<channel>_fuzz.cc): the input is a POST body, with `headers`, through
// handshake(), verify() and map() of each provider given. Every contact mapped must carry
// contact_id(provider, source_id) and survive the wire codec after clamping, with the domain filled
// in as webhook_connector does. Anything else is an error value: never a crash, a hang or an
// exception.
#include <cstdint>
#include <cstdlib>
#include <initializer_list>

#include "connectors/webhook.h"
#include "core/events/codec.h"

namespace omni::connectors::fuzz {

inline int webhook(const std::uint8_t* data, std::size_t size,
                   std::initializer_list<const webhook_provider*> providers,
                   const core::http::header_map& headers = {}) {
  core::http::request req;
  req.verb = core::http::method::post;
  req.body.assign(reinterpret_cast<const char*>(data), size);
  for (const auto& f : headers) req.headers.add(f.name, f.value);
  for (const webhook_provider* p : providers) {
    (void)p->handshake(req);
    (void)p->verify(req);
    auto mapped = p->map(req, 1);
    if (!mapped) continue;
    for (auto c : mapped->contacts) {
      if (c.id != core::contact_id(c.provider, c.source_id)) std::abort();
      if (c.domain.empty()) c.domain = "fuzz";
      core::clamp_to_limits(c);
      if (!core::decode_contact(core::encode(c))) std::abort();
    }
  }
  return 0;
}

}  // namespace omni::connectors::fuzz
