// Fuzzes the Viber mapper through the webhook harness.
#include "connectors/viber/viber_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::viber::provider p({"fuzz", "token", "bot"});
  return omni::connectors::fuzz::webhook(data, size, {&p});
}
