// Fuzzes the VK Callback API mapper, its confirmation and its in-body secret through the webhook
// harness.
#include "connectors/vk/vk_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::vk::provider p(
      {"fuzz", 218765432, "confirm", "vk-s3cret-Key", ""});
  return omni::connectors::fuzz::webhook(data, size, {&p});
}
