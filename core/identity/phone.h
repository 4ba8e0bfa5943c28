#pragma once
// Phone numbers written in international form, as messengers report them (Viber's shared
// contacts, WhatsApp's business numbers): no region is assumed, so no libphonenumber is needed.
// Numbers in national form need the region; normalize.h (libphonenumber) reads those.

#include <optional>
#include <string>
#include <string_view>

namespace omni::core {

// A phone number as E.164 ("+<digits>"), or nullopt when it cannot be told without knowing the
// country (a national number with a trunk 0, letters, too short / long). Separators (space, '-',
// '.', parentheses) are dropped and a leading 00 becomes '+'.
std::optional<std::string> international_e164(std::string_view number);

}  // namespace omni::core
