#pragma once
// The reference desk page (routing/desk/static/), embedded into the binary at build time by
// embed.cmake so that an installed omniroute serves /desk/ with no files beside it.

#include <cstddef>
#include <string_view>

namespace omni::routing::desk {

struct embedded_file {
  std::string_view name;  // "index.html", "desk.js", ...
  std::string_view content_type;
  std::string_view body;
};

// The file called `name` (relative to static/), or nullptr.
const embedded_file* find_desk_file(std::string_view name);

}  // namespace omni::routing::desk
