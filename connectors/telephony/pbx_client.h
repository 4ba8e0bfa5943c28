#pragma once
// The TCP side shared by the PBX management-socket providers (Asterisk AMI, FreeSWITCH ESL):
// connect to the PBX, hand every byte to the provider's pbx_protocol (a pure state machine: login,
// event subscription, framing, mapping), write what it answers, publish what it maps, and on any
// drop reconnect with exponential backoff. Nothing is acknowledged to a PBX, so a contact Kafka
// refused is retried here (bounded) rather than lost.
//
// Optionally over TLS (certificate verified against `host`, or a private CA file).
//
// Owned by the daemon like every connector; its state lives in a shared `session` on its own
// strand of the daemon's io_context, so handlers still in flight at stop() find it alive.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/connector.h"
#include "connectors/telephony/call_tracker.h"
#include "core/clock.h"

namespace omni::connectors::telephony {

// What a provider's protocol reports after reading some bytes.
struct feed_result {
  std::string send;          // bytes to write to the PBX (login, subscription)
  std::string fatal;         // non-empty: drop the connection with this reason
  bool auth_failed = false;  // the PBX refused our credentials (counted, logged as an error)
  bool ready = false;        // logged in and subscribed: reset the backoff
};

class pbx_protocol {
 public:
  virtual ~pbx_protocol() = default;
  // A new connection starts: forget any partial frame and the login state.
  virtual void reset() = 0;
  // Bytes read from the PBX, in order, split anywhere.
  virtual feed_result feed(std::string_view bytes, core::timestamp_ms now, call_output& out) = 0;
  // Periodic work (caller-id waits).
  virtual void tick(core::timestamp_ms now, call_output& out) = 0;
  virtual const call_tracker& tracker() const = 0;
};

struct pbx_settings {
  std::string name;
  std::string type;  // asterisk, freeswitch
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;        // AMI over TLS (Asterisk tlsenable, port 5039)
  std::string tls_ca;      // CA file to verify the PBX's certificate; empty: the system's
  bool tls_verify = true;  // verify the certificate and that it names `host`
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds login_timeout{10000};  // connected -> logged in and subscribed
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds tick{250};
  int publish_attempts = 5;  // per contact / agent event, 1 s apart, before it is given up
};

class pbx_client : public connector {
 public:
  pbx_client(pbx_settings s, std::unique_ptr<pbx_protocol> protocol, context ctx);
  ~pbx_client() override;
  std::string_view type() const override;
  const std::string& name() const override;
  core::result<bool> start() override;
  void stop() override;
  std::optional<peer_status> peer() const override;

  // For tests: connections made, and whether the current one is logged in.
  std::uint64_t connections() const;
  bool ready() const;

  struct session;

 private:
  // Until start(): what the session will be built from. The session (strand, resolver, timers)
  // needs the io_context, which `check-config` does not have: building it is start()'s job.
  pbx_settings settings_;
  std::unique_ptr<pbx_protocol> protocol_;
  context ctx_;
  std::shared_ptr<session> session_;  // from start() on
};

// Publishes one call_output: contacts through ctx.publisher, agent events through
// ctx.agent_events (skipped when null). `done(ok)` once every item has an answer. Shared by
// every provider.
void publish_output(const context& ctx, const call_output& out, std::function<void(bool)> done);

using core::now_ms;  // core/clock.h

// The telephony metrics, by connector: "bad_frames", "auth_failures", "reconnects",
// "publish_failures", "events_ignored", "calls_routed", "calls_abandoned", "calls_answered",
// "calls_completed", "calls_transferred", "unmapped_agents" (omniroute_telephony_<what>_total).
void count(std::string_view what, const std::string& connector, std::uint64_t n = 1);
// Counts what the tracker did since `before`.
void count_calls(const call_counts& before, const call_counts& after, const std::string& connector);

}  // namespace omni::connectors::telephony
