#pragma once
// SMTP submission (RFC 6409 / 5321) of agents' replies: implicit TLS (465) or STARTTLS (587, never
// AUTH in clear when STARTTLS fails), AUTH PLAIN, one connection per message. The message is built
// by GMime (RFC 2047 subject, UTF-8 quoted-printable body) with In-Reply-To and References so the
// customer's mail client threads it. Runs as a coroutine on its own strand of the io_context.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/events/events.h"

namespace omni::connectors::imap {

struct smtp_settings {
  std::string host;
  std::uint16_t port = 587;
  bool implicit_tls = false;  // true: TLS from the first byte (465); false: STARTTLS when required
  bool starttls = true;       // false only for a loopback relay (tests, a local Postfix)
  std::string ca_file;
  bool verify = true;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from;       // the From address, e.g. support@shop.example
  std::string from_name;  // display name
  std::string helo = "omniroute";
  std::chrono::milliseconds timeout{std::chrono::seconds{30}};
};

// The RFC 5322 message for a reply (CRLF line ends). `message_id` is without brackets.
std::string build_reply(const smtp_settings& s, const core::outbound& o,
                        const std::string& message_id);

class smtp_client {
 public:
  smtp_client(boost::asio::io_context& ioc, smtp_settings s);
  ~smtp_client();
  // Sends one message; `done(error)` ("" on success) runs on the client's strand.
  void send(std::string recipient, std::string message, std::function<void(std::string)> done);
  const smtp_settings& config() const { return settings_; }

 private:
  struct impl;
  smtp_settings settings_;
  std::shared_ptr<impl> impl_;
};

}  // namespace omni::connectors::imap
