// Fuzzes the Telegram update mapper through the webhook harness.
#include "connectors/telegram/telegram_connector.h"
#include "tests/connectors/webhook_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const omni::connectors::telegram::provider p({"fuzz", "token", "@bot"});
  return omni::connectors::fuzz::webhook(data, size, {&p},
                                         {{"X-Telegram-Bot-Api-Secret-Token", "token"}});
}
