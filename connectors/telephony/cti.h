#pragma once
// HTTP CTI: a token-protected endpoint for PBXs and cloud telephony that post call events as the
// widely used generic CTI webhook shape, form-encoded or JSON:
//   event      newCall | answer | hangup | transfer   (case-insensitive; also incoming, answered,
//                                                      completed / end)
//   callId     the PBX's call id: the conversation key (required)
//   from, to   caller and dialled numbers (newCall)
//   direction  in / inbound (default) or out / outbound (outbound calls are not contacts)
//   user       the PBX user / extension that answered (answer) or receives the call (transfer)
//   cause      hangup cause (hangup)
// Authentication: `Authorization: Bearer <token>`, `X-Api-Token: <token>` or `?token=<token>`
// (many PBXs can only put it in the URL). Answers: 200 {"status":"ok"} once Kafka stored what the
// event produced; 401 / 403 {"error":...}; 400 {"error":"<field>: <reason>"}; 503 + Retry-After
// when Kafka could not store it (the PBX retries; ids dedupe).
//
// Runs on connection strands; the call tracker behind a mutex. The tracker's state is per process:
// behind a load balancer, send one PBX's events to one node (or accept that answer/hangup
// events reaching another node only complete calls that node saw start).

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/connector.h"
#include "connectors/telephony/call_tracker.h"
#include "core/http/message.h"

namespace omni::connectors::telephony {

struct cti_event {
  enum class type { new_call, answer, hangup, transfer } kind = type::new_call;
  std::string call_id, from, to, direction, user, cause;
};

// The request body (form or JSON, by Content-Type; JSON when it starts with '{') as a CTI event.
core::result<cti_event> parse_cti(const core::http::request& req);

struct cti_settings {
  std::string name;
  std::string path;                 // /hooks/cti/<name>
  std::vector<std::string> tokens;  // several while rotating
};

class cti_endpoint : public connector {
 public:
  cti_endpoint(cti_settings s, call_settings calls, context ctx);
  std::string_view type() const override { return "cti"; }
  const std::string& name() const override { return settings_.name; }
  core::result<bool> start() override;
  void stop() override { stopped_ = true; }

  // The request path without a socket (tests, benchmarks).
  void handle(core::http::request req, core::http::responder r);

 private:
  bool authentic(const core::http::request& req) const;
  void count_request(std::string_view outcome) const;

  cti_settings settings_;
  context ctx_;
  std::mutex mutex_;
  call_tracker tracker_;
  // What recent events produced, by "<callId> <event>": a PBX retrying after a 503 gets the same
  // output published again (same ids: deduplicated) although the tracker has moved on.
  std::unordered_map<std::string, call_output> recent_;
  std::deque<std::string> recent_order_;
  std::atomic<bool> stopped_{false};
};

}  // namespace omni::connectors::telephony
