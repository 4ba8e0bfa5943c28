// Fuzzes MIME -> contact (GMime 3 + libxml2): any bytes either fail as a value or become a contact
// whose strings are valid UTF-8 and which survives the wire codec after clamping.
#include <cstdlib>

#include "connectors/imap/mime.h"
#include "core/events/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omni::connectors::imap;
  static const mime_settings settings = [] {
    mime_settings s;
    s.max_depth = 8;
    s.max_parts = 64;
    return s;
  }();
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto m = parse_mail(raw, settings);
  if (!m) return 0;
  mail_origin o{"fuzz", "INBOX", 1, 1, "", "fuzz", 1};
  auto c = to_contact(*m, o);
  for (const auto* s : {&c.subject, &c.text, &c.customer.display_name, &c.conversation})
    if (!omni::core::valid_utf8(*s)) std::abort();
  omni::core::clamp_to_limits(c);
  if (!omni::core::decode_contact(omni::core::encode(c))) std::abort();
  return 0;
}
