// Fuzzes the IMAP response framer and parser: any byte stream, fed in uneven pieces, yields whole
// responses that parse or fail as values, within the framer's caps. Never a crash, a hang or an
// allocation sized by an announced literal.
#include <cstdlib>
#include <string_view>

#include "connectors/imap/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omni::connectors::imap;
  framer f(framer_limits{4096, 64 * 1024, 128 * 1024});
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t step = size > 0 ? 1 + data[0] % 61 : 1;
  for (std::size_t pos = 0; pos < in.size(); pos += step) {
    f.feed(in.substr(pos, step));
    for (;;) {
      auto next = f.next();
      if (!next) return 0;  // the session would drop the connection here
      if (!*next) break;
      if ((*next)->size() > 128 * 1024 + 4096) std::abort();  // a cap was not applied
      auto r = parse(**next);
      if (r && r->k == response::kind::untagged && !r->data.empty()) (void)r->data[0].find("UID");
    }
    if (f.buffered() > 128 * 1024 + 4096 + step) std::abort();
  }
  return 0;
}
