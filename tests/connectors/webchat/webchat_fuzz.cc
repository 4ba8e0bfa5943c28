// Fuzzes the web-chat visitor protocol parser: any text is a client message whose fields respect
// the limits, or an error value with a protocol error code. Never a crash, a hang or an exception.
#include <cstdlib>

#include "connectors/webchat/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omni::connectors::webchat;
  const field_limits limits;
  auto m =
      parse_client_message(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!m) {
    const auto& code = m.err().field;
    if (code != "bad_json" && code != "bad_request" && code != "unknown_type" &&
        code != "unsupported_version")
      std::abort();
    return 0;
  }
  if (m->text.size() > limits.text || m->client_id.size() > limits.client_id ||
      m->name.size() > limits.name)
    std::abort();
  if (m->type == client_type::message && (m->client_id.empty() || m->text.empty())) std::abort();
  return 0;
}
