// Fuzzes the generic hook (canonical contacts, single or batch) through the webhook harness.
#include "connectors/generic/generic_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::generic::provider p(
      {"fuzz", {"whsec-0123456789abcdef"}, {}, {"generic", "crm"}, {"acme"}});
  return omni::connectors::fuzz::webhook(data, size, {&p});
}
