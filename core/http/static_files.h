#pragma once
// Pages compiled into the binary (the desk page at /desk/, the web-chat widget at /chat/), so an
// installed omniroute serves them with no files beside it. The files come from a directory of the
// source tree through omni_embed_files() (cmake/omni.cmake), which defines an embedded_site.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/http/listener.h"

namespace omni::core::http {

struct embedded_file {
  std::string_view name;  // "index.html", "desk.js", ...
  std::string_view content_type;
  std::string_view body;
};

struct embedded_site {
  const embedded_file* files = nullptr;
  std::size_t count = 0;

  // The file called `name` (relative to the embedded directory), or nullptr.
  const embedded_file* find(std::string_view name) const;
};

// Serves `site` under `prefix` ("/desk/"): GET prefix + name, index.html for the bare prefix, and
// a 301 from the prefix without its slash. `content_security_policy` goes on every file (empty:
// none); files are sent with Cache-Control: no-cache and X-Content-Type-Options: nosniff.
void serve_embedded(listener& l, const std::string& prefix, const embedded_site& site,
                    std::string content_security_policy);

}  // namespace omni::core::http
