#pragma once
// The email connector: one IMAP session per configured mailbox (C++20 coroutines on Boost.Asio,
// each on its own strand of the daemon's io_context) turns new mail into email contacts, and
// deliver() sends agents' replies by SMTP submission (smtp.h).
//
// Per mailbox, loss-free and duplicate-free across restarts:
//   connect (implicit TLS, or STARTTLS and never a login when it fails) -> LOGIN / AUTHENTICATE
//   PLAIN -> SELECT -> move what an earlier run routed but could not move yet -> loop:
//     UID SEARCH past the last processed UID -> UID FETCH sizes, then bodies (messages over
//     max_message_size: the header only) -> MIME -> contact -> publish -> on "stored": advance and
//     persist the resume state -> UID MOVE to the processed folder (or COPY + \Deleted + EXPUNGE)
//     -> IDLE (re-issued before 29 minutes) or, without IDLE, wait poll_interval.
//   Any error: drop the connection, back off (doubling up to reconnect_max), reconnect.
// Auto-replies and bounces are moved but not routed (unless route_auto_replies); too-large and
// unparsable messages are flagged $OmnirouteLeft and stay where they are for a human.

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "connectors/connector.h"
#include "connectors/imap/mime.h"
#include "connectors/imap/smtp.h"
#include "core/recent_ids.h"

namespace omni::connectors::imap {

enum class tls_mode { implicit, starttls, none };
enum class auth_mechanism { plain, login };

struct server_settings {
  std::string host;
  std::uint16_t port = 993;
  tls_mode tls = tls_mode::implicit;
  std::string ca_file;  // empty: the system's trust store
  bool verify = true;   // certificate and host name
};

struct settings {
  std::string name;
  common_settings common;
  server_settings server;
  std::string username;
  std::string password;
  auth_mechanism auth = auth_mechanism::plain;
  std::vector<std::string> mailboxes{"INBOX"};
  std::string processed_folder = "Routed";  // empty: flag with processed_keyword instead
  std::string processed_keyword = "$Routed";
  std::string address;  // the address customers write to (contact `to`); empty: the first To
  std::chrono::milliseconds idle_refresh{std::chrono::minutes{28}};
  std::chrono::milliseconds poll_interval{std::chrono::seconds{30}};
  std::chrono::milliseconds timeout{std::chrono::seconds{60}};
  std::chrono::milliseconds reconnect_min{std::chrono::seconds{1}};
  std::chrono::milliseconds reconnect_max{std::chrono::seconds{60}};
  std::uint64_t max_message_size = 25 << 20;
  std::uint64_t fetch_batch_bytes = 8 << 20;  // bodies fetched per UID FETCH
  bool route_auto_replies = false;
  mime_settings mime;
  std::optional<smtp_settings> smtp;  // outbound replies; none: deliver() declines email
};

struct imap_counters;  // metrics, one set per connector

class imap_connector : public connector {
 public:
  imap_connector(settings s, context ctx);
  ~imap_connector() override;
  std::string_view type() const override { return "imap"; }
  const std::string& name() const override { return settings_.name; }
  core::result<bool> start() override;
  void stop() override;
  bool deliver(const core::outbound& o, const outbound_position& at = {}) override;
  // Connected while every mailbox session is logged in with its mailbox selected.
  std::optional<peer_status> peer() const override;

  const settings& config() const { return settings_; }
  // The last connection error of any mailbox session ("" when none), for tests and logs.
  std::string last_error() const;
  // Sessions that are logged in with the mailbox selected right now.
  int sessions_ready() const;

  class session;

 private:
  // False when `id` was delivered recently (the dispatcher re-reads records after a crash; the
  // Message-ID derived from the outbound id also lets mail clients drop a re-sent copy).
  bool remember_outbound(const std::string& id);

  settings settings_;
  context ctx_;
  std::shared_ptr<imap_counters> counters_;
  std::vector<std::shared_ptr<session>> sessions_;
  std::unique_ptr<smtp_client> smtp_;
  std::mutex sent_mutex_;
  core::recent_ids sent_ids_{10000};
};

}  // namespace omni::connectors::imap
