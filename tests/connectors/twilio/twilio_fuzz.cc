// Fuzzes the Twilio form parser, signature check and both mappers (SMS and voice) through the
// webhook harness.
#include "connectors/twilio/twilio_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omni::connectors::twilio;
  static const provider sms({"fuzz", "token", "https://h.example/t/sms", "", ""}, endpoint::sms);
  static const provider voice({"fuzz", "token", "https://h.example/t/voice", "", ""},
                              endpoint::voice);
  return omni::connectors::fuzz::webhook(data, size, {&sms, &voice},
                                         {{"X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="}});
}
