#pragma once
// Secret references in configuration strings, so passwords and tokens stay out of the YAML file:
//   ${NAME}         the environment variable NAME (an error if it is not set)
//   ${file:/path}   the contents of a file, one trailing newline removed
//   ${file:name}    a relative path: resolved against $CREDENTIALS_DIRECTORY when set (systemd
//                   LoadCredential=), else against the working directory
//   $${             a literal "${"
// Any other '$' is literal. The reader applies this to every scalar it converts.

#include <optional>
#include <string>
#include <string_view>

namespace omni::config {

// The expanded text, or the reason it could not be expanded. Error messages name the variable or
// the path but never contain a secret's value.
struct secret_expansion {
  std::optional<std::string> value;
  std::string error;
};

secret_expansion expand_secrets(std::string_view text);

// True when `text` holds a reference (not counting `$${` escapes): callers use it to avoid echoing
// an expanded secret back in an error message.
bool has_secret_reference(std::string_view text);

}  // namespace omni::config
