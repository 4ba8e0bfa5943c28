#include "core/http/static_files.h"

namespace omni::core::http {

const embedded_file* embedded_site::find(std::string_view name) const {
  for (std::size_t i = 0; i < count; ++i)
    if (files[i].name == name) return &files[i];
  return nullptr;
}

void serve_embedded(listener& l, const std::string& prefix, const embedded_site& site,
                    std::string content_security_policy) {
  std::string bare = prefix.substr(0, prefix.size() - 1);
  l.add(method::get, bare, [prefix](request, responder r) {
    response res = response::text(301, "moved to " + prefix + "\n");
    res.headers.set("Location", prefix);
    r.send(std::move(res));
  });
  l.add_prefix(
      method::get, prefix,
      [&site, n = prefix.size(), csp = std::move(content_security_policy)](request q, responder r) {
        std::string_view name = std::string_view(q.path).substr(n);
        if (name.empty()) name = "index.html";
        const embedded_file* f = site.find(name);
        if (!f) return (void)r.send(response::error(404, "not found"));
        response res;
        res.status = 200;
        res.content_type = std::string(f->content_type);
        res.body = std::string(f->body);
        res.headers.set("Cache-Control", "no-cache");
        res.headers.set("X-Content-Type-Options", "nosniff");
        if (!csp.empty()) res.headers.set("Content-Security-Policy", csp);
        r.send(std::move(res));
      });
}

}  // namespace omni::core::http
