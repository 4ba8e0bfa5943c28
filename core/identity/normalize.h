#pragma once
// Normalization of customer identity values, so that the same person written two ways is one key:
// e-mail addresses lower-cased and trimmed, phone numbers in E.164 via libphonenumber (with a
// configurable default region for national formats, e.g. Russian "8 (912) 345-67-89"), other kinds
// trimmed. Used by the router (customer resolution) and by connectors that key calls by the
// caller's number. Thread-safe (libphonenumber's util is a process-wide immutable singleton).

#include <optional>
#include <string>
#include <string_view>

#include "core/events/events.h"

namespace omni::core {

class identity_normalizer {
 public:
  explicit identity_normalizer(std::string default_region = "RU");

  // The canonical form, or nullopt when the value is not usable (an empty e-mail, a phone number
  // libphonenumber cannot parse, an anonymous caller).
  std::optional<identity> normalize(const identity& id) const;
  std::optional<std::string> phone_e164(std::string_view raw) const;

 private:
  std::string region_;
};

}  // namespace omni::core
