// The REST API (/api/v1/...) and the desk page (/desk/), registered on the shared listener.
#include "routing/desk/gateway_impl.h"

namespace omni::routing::desk {

extern const core::http::embedded_site desk_files;  // static/, embedded by omni_embed_files()

namespace {

using core::http::request;
using core::http::responder;
using core::http::response;

response json_response(int status, const json& j) { return response::json(status, dump(j)); }

}  // namespace

void gateway::impl::register_routes(core::http::listener& l) {
  std::weak_ptr<impl> weak = weak_from_this();
  l.add_upgrade("/agent/v1/ws", [weak](std::unique_ptr<core::http::upgrade> u) {
    if (auto self = weak.lock()) self->on_upgrade(std::move(u));
  });

  // Who is asking: the admin (everything) or an agent (queues, and what they were offered).
  struct caller {
    bool admin = false;
    std::string agent;
  };
  auto who = [weak](const request& q, responder& r) -> std::optional<caller> {
    auto self = weak.lock();
    if (!self) return r.send(response::error(503, "gateway stopping")), std::nullopt;
    auto token = bearer(q);
    if (!token) {
      auto res = response::error(401, "send Authorization: Bearer <admin or agent token>");
      res.headers.set("WWW-Authenticate", "Bearer");
      r.send(std::move(res));
      return std::nullopt;
    }
    if (self->auth->is_admin(*token)) return caller{true, {}};
    auto id = self->auth->check(*token, now_ms() / 1000);
    if (!id) {
      auto res = response::error(401, id.err().message);
      res.headers.set("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      r.send(std::move(res));
      return std::nullopt;
    }
    return caller{false, id->agent_id};
  };
  auto tail = [](const request& q, std::string_view prefix) {
    return core::http::url_decode(std::string_view(q.path).substr(prefix.size()));
  };
  auto domain_of = [](const request& q) { return std::string(q.query("domain").value_or("")); };
  auto forbidden = [](responder& r) { r.send(response::error(403, "admin token required")); };

  l.add(core::http::method::get, "/api/v1/queues", [weak, who, domain_of](request q, responder r) {
    auto c = who(q, r);
    if (!c) return;
    r.send(json_response(200, weak.lock()->model.queues(domain_of(q))));
  });
  l.add_prefix(core::http::method::get, "/api/v1/queues/",
               [weak, who, tail, domain_of](request q, responder r) {
                 auto c = who(q, r);
                 if (!c) return;
                 auto name = tail(q, "/api/v1/queues/");
                 if (auto j = weak.lock()->model.queue(domain_of(q), name))
                   return (void)r.send(json_response(200, *j));
                 r.send(response::error(404, "no statistics for queue '" + name + "' yet"));
               });
  l.add(core::http::method::get, "/api/v1/agents",
        [weak, who, domain_of, forbidden](request q, responder r) {
          auto c = who(q, r);
          if (!c) return;
          if (!c->admin) return forbidden(r);
          auto self = weak.lock();
          r.send(json_response(200, self->model.agents(domain_of(q), self->connection_counts())));
        });
  l.add_prefix(core::http::method::get, "/api/v1/agents/",
               [weak, who, tail](request q, responder r) {
                 auto c = who(q, r);
                 if (!c) return;
                 auto id = tail(q, "/api/v1/agents/");
                 if (!c->admin && c->agent != id)
                   return (void)r.send(response::error(403, "admin token required"));
                 auto self = weak.lock();
                 auto counts = self->connection_counts();
                 if (auto j = self->model.agent(id, counts.count(id) ? counts[id] : 0))
                   return (void)r.send(json_response(200, *j));
                 r.send(response::error(404, "unknown agent '" + id + "'"));
               });
  // GET <prefix><id> of a customer or contact: an admin sees any, an agent only their own.
  using knows_fn = bool (read_model::*)(const std::string&, const std::string&) const;
  using find_fn = std::optional<nlohmann::json> (read_model::*)(const std::string&) const;
  auto lookup = [&l, weak, who, tail](std::string prefix, std::string noun, knows_fn knows,
                                      find_fn find) {
    l.add_prefix(core::http::method::get, prefix, [=](request q, responder r) {
      auto c = who(q, r);
      if (!c) return;
      auto self = weak.lock();
      auto id = tail(q, prefix);
      if (!c->admin && !(self->model.*knows)(c->agent, id))
        return (void)r.send(response::error(403, "not one of your " + noun + "s"));
      if (auto j = (self->model.*find)(id)) return (void)r.send(json_response(200, *j));
      r.send(response::error(404, "unknown " + noun + " '" + id + "'"));
    });
  };
  lookup("/api/v1/customers/", "customer", &read_model::agent_knows_customer,
         &read_model::customer);
  lookup("/api/v1/contacts/", "contact", &read_model::agent_knows_contact, &read_model::contact);

  // The reference desk page, embedded at build time.
  core::http::serve_embedded(l, "/desk/", desk_files,
                             "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
                             "data:; frame-ancestors 'none'");
}

}  // namespace omni::routing::desk
