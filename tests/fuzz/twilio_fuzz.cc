// Fuzzes the Twilio form parser, signature check and both mappers (SMS and voice): any body either
// maps to contacts that survive the wire codec after clamping, or to an error value. Never a
// crash, a hang or an exception.
#include <cstdlib>

#include "connectors/twilio/twilio_connector.h"
#include "core/events/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omni::connectors::twilio;
  static const provider sms({"fuzz", "token", "https://h.example/t/sms", "", ""}, endpoint::sms);
  static const provider voice({"fuzz", "token", "https://h.example/t/voice", "", ""},
                              endpoint::voice);
  omni::core::http::request req;
  req.verb = omni::core::http::method::post;
  req.body.assign(reinterpret_cast<const char*>(data), size);
  req.headers.add("X-Twilio-Signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  (void)sms.verify(req);
  for (const provider* p : {&sms, &voice}) {
    auto mapped = p->map(req, 1);
    if (!mapped) continue;
    for (auto c : mapped->contacts) {
      c.domain = "fuzz";  // as webhook_connector fills it before producing
      omni::core::clamp_to_limits(c);
      if (!omni::core::decode_contact(omni::core::encode(c))) std::abort();
    }
  }
  return 0;
}
