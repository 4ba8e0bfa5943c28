#pragma once
// What an event's JSON encoding costs, estimated before writing it: encode() reserves from it,
// clamp_to_limits() bounds a contact's record size with it (codec.cc, limits.cc).

#include <cstddef>
#include <string_view>

#include "core/events/events.h"

namespace omni::core::detail {

// A guess at the encoded size, so the output is allocated once in the common case.
inline std::size_t text_bytes(std::string_view s) { return s.size() + 4; }

// What a contact's encoding costs before its envelope (keys, quotes, brackets) and escapes: the
// bytes of all its strings, and how many items each list and map holds. encode() reserves from it,
// clamp_to_limits() bounds the record size with it.
struct contact_size {
  std::size_t strings = 0;
  std::size_t identities = 0, attachments = 0, attributes = 0;
};
inline contact_size size_of(const contact& c) {
  contact_size z{c.id.size() + c.provider.size() + c.source_id.size() + c.domain.size() +
                     c.conversation.size() + c.to.size() + c.subject.size() + c.text.size() +
                     c.language.size() + c.customer.display_name.size() + c.customer.tier.size(),
                 c.customer.identities.size(), c.attachments.size(), c.attributes.size()};
  for (const auto& i : c.customer.identities) z.strings += i.kind.size() + i.value.size();
  for (const auto& a : c.attachments)
    z.strings += a.name.size() + a.content_type.size() + a.ref.size();
  for (const auto& [k, v] : c.attributes) z.strings += k.size() + v.size();
  return z;
}
constexpr std::size_t contact_string_fields = 11;  // the top-level strings size_of() adds up

}  // namespace omni::core::detail
