// Fuzzes the WhatsApp Cloud API mapper through the webhook harness.
#include "connectors/whatsapp/whatsapp_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::whatsapp::provider p({"fuzz", {"secret"}, "token"});
  return omni::connectors::fuzz::webhook(data, size, {&p});
}
