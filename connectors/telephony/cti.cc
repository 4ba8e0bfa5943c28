#include "connectors/telephony/cti.h"

#include "connectors/payload.h"
#include "connectors/telephony/headers.h"
#include "connectors/telephony/pbx_client.h"
#include "connectors/webhook.h"
#include "core/http/listener.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace omni::connectors::telephony {

namespace http = core::http;

namespace {

spdlog::logger& logger() {
  static auto l = core::log::get("omni.telephony");
  return *l;
}

std::optional<cti_event::type> event_type(std::string_view e) {
  using T = cti_event::type;
  for (auto [name, t] : {std::pair{"newcall", T::new_call},
                         {"new_call", T::new_call},
                         {"incoming", T::new_call},
                         {"answer", T::answer},
                         {"answered", T::answer},
                         {"hangup", T::hangup},
                         {"end", T::hangup},
                         {"completed", T::hangup},
                         {"transfer", T::transfer}})
    if (iequals(e, name)) return t;
  return std::nullopt;
}

}  // namespace

core::result<cti_event> parse_cti(const http::request& req) {
  std::map<std::string, std::string> fields;
  auto type = req.header("Content-Type").value_or("");
  std::string_view body = trim(req.body);
  if (type.find("json") != std::string_view::npos || body.starts_with("{")) {
    auto doc = payload::parse(req.body);
    if (!doc) return doc.err();
    payload::node root(*doc);
    if (!root.is_object()) return core::error{"must be a JSON object", "body"};
    for (const char* k : {"event", "callId", "from", "to", "direction", "user", "cause"})
      if (auto v = root[k].text()) fields[k] = *v;
  } else if (type.empty() || type.find("x-www-form-urlencoded") != std::string_view::npos) {
    for (auto& [k, v] : http::parse_form(req.body)) fields.emplace(k, v);
  } else {
    return core::error{
        "expected application/x-www-form-urlencoded or application/json, got " + std::string(type),
        "Content-Type"};
  }
  cti_event e;
  auto kind = event_type(fields["event"]);
  if (!kind)
    return core::error{fields["event"].empty()
                           ? std::string("is required (newCall, answer, hangup, transfer)")
                           : "unknown event '" + fields["event"].substr(0, 40) +
                                 "' (newCall, answer, hangup, transfer)",
                       "event"};
  e.kind = *kind;
  e.call_id = fields["callId"];
  if (e.call_id.empty()) return core::error{"is required", "callId"};
  if (e.call_id.size() > 256) return core::error{"is longer than 256 characters", "callId"};
  e.from = fields["from"];
  e.to = fields["to"];
  e.direction = fields["direction"];
  e.user = fields["user"];
  e.cause = fields["cause"];
  if (e.kind == cti_event::type::new_call && e.from.empty())
    return core::error{"is required for newCall (the caller's number, or 'anonymous')", "from"};
  if ((e.kind == cti_event::type::answer || e.kind == cti_event::type::transfer) && e.user.empty())
    return core::error{"is required for answer and transfer (the PBX user)", "user"};
  return e;
}

cti_endpoint::cti_endpoint(cti_settings s, call_settings calls, context ctx)
    : settings_(std::move(s)), ctx_(std::move(ctx)), tracker_(std::move(calls)) {}

core::result<bool> cti_endpoint::start() {
  if (!ctx_.http)
    return core::error{"needs the public HTTP listener (node role ingest)", settings_.name};
  if (!ctx_.http->add(
          http::method::post, settings_.path,
          [this](http::request req, http::responder r) { handle(std::move(req), std::move(r)); }))
    return core::error{"cannot register " + settings_.path + " (path taken?)", settings_.name};
  logger().info("{} (cti): listening on {}", settings_.name, settings_.path);
  return true;
}

void cti_endpoint::count_request(std::string_view outcome) const {
  core::metrics::global()
      .counter_of("omniroute_webhook_requests_total", "Webhook requests by connector and outcome.",
                  {{"connector", settings_.name}, {"outcome", std::string(outcome)}})
      .inc();
}

bool cti_endpoint::authentic(const http::request& req) const {
  std::string_view given;
  if (auto a = req.header("Authorization"); a && a->starts_with("Bearer "))
    given = trim(a->substr(7));
  else if (auto t = req.header("X-Api-Token"))
    given = trim(*t);
  else if (auto q = req.query("token"))
    given = *q;
  bool ok = false;
  for (const auto& t : settings_.tokens) ok |= secure_equals(given, t);  // no early exit
  return ok && !given.empty();
}

void cti_endpoint::handle(http::request req, http::responder r) {
  if (stopped_) {
    count_request("stopping");
    auto resp = http::response::error(503, "shutting down");
    resp.headers.set("Retry-After", "5");
    r.send(std::move(resp));
    return;
  }
  const bool has_credentials =
      req.header("Authorization") || req.header("X-Api-Token") || req.query("token");
  if (!authentic(req)) {
    count_request("rejected_signature");
    logger().warn("{}: request {} from {} rejected ({} token)", settings_.name, req.id,
                  req.remote_address, has_credentials ? "wrong" : "no");
    r.send(has_credentials ? forbidden("wrong token") : unauthorized("missing token"));
    return;
  }
  auto e = parse_cti(req);
  if (!e) {
    count_request("malformed");
    logger().warn("{}: malformed request {} from {}: {}", settings_.name, req.id,
                  req.remote_address, e.err().to_string());
    r.send(http::response::error(400, e.err().to_string()));
    return;
  }
  call_output out;
  {
    std::lock_guard lock(mutex_);
    call_counts before = tracker_.counts();
    const core::timestamp_ms now = now_ms();
    switch (e->kind) {
      case cti_event::type::new_call: {
        std::string dir = e->direction;
        if (iequals(dir, "out") || iequals(dir, "outbound") || iequals(dir, "outgoing")) break;
        tracker_.started({e->call_id, e->from, "", e->to, true, {}}, now, out);
        break;
      }
      case cti_event::type::answer:
        tracker_.answered(e->call_id, {e->user}, now, out);
        break;
      case cti_event::type::transfer:
        tracker_.transferred(e->call_id, {e->user}, now, out);
        break;
      case cti_event::type::hangup:
        tracker_.ended(e->call_id, e->cause, now, out);
        break;
    }
    count_calls(before, tracker_.counts(), settings_.name);
    std::string key = e->call_id + " " + std::to_string(static_cast<int>(e->kind));
    if (!out.empty()) {
      if (recent_.insert_or_assign(key, out).second) recent_order_.push_back(key);
      while (recent_order_.size() > 4096) {
        recent_.erase(recent_order_.front());
        recent_order_.pop_front();
      }
    } else if (auto it = recent_.find(key); it != recent_.end()) {
      out = it->second;  // a retry
    }
  }
  if (out.empty()) {
    count_request("ignored");
    r.send(http::response::json(200, R"({"status":"ok"})"));
    return;
  }
  publish_output(ctx_, out, [this, r](bool ok) {
    if (ok) {
      count_request("stored");
      r.send(http::response::json(200, R"({"status":"ok"})"));
      return;
    }
    count_request("kafka_unavailable");
    auto resp = http::response::error(503, "could not store the event; retry");
    resp.headers.set("Retry-After", "5");
    r.send(std::move(resp));
  });
}

}  // namespace omni::connectors::telephony
