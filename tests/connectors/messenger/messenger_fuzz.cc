// Fuzzes the Messenger and Instagram mapper (both platforms) through the webhook harness.
#include "connectors/messenger/messenger_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using omni::connectors::messenger::platform;
  using omni::connectors::messenger::provider;
  static const provider page({"fuzz", platform::messenger, {"secret"}, "token"});
  static const provider instagram({"fuzz-ig", platform::instagram, {"secret"}, "token"});
  return omni::connectors::fuzz::webhook(data, size, {&page, &instagram});
}
