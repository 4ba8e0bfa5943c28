#include "connectors/imap/smtp.h"

#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <gmime/gmime.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <mutex>
#include <stdexcept>

#include "connectors/imap/transport.h"

namespace omni::connectors::imap {

namespace asio = boost::asio;

namespace {

struct smtp_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string bracket(const std::string& id) {
  if (!id.empty() && id.front() == '<') return id;
  return "<" + id + ">";
}

}  // namespace

std::string build_reply(const smtp_settings& s, const core::outbound& o,
                        const std::string& message_id) {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
  GMimeMessage* msg = g_mime_message_new(TRUE);
  g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, s.from_name.c_str(), s.from.c_str());
  g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, nullptr, o.recipient.value.c_str());
  std::string subject = o.subject.empty() ? "Re: your message" : o.subject;
  g_mime_message_set_subject(msg, subject.c_str(), "utf-8");
  g_mime_message_set_message_id(msg, message_id.c_str());
  GDateTime* now = g_date_time_new_now_utc();
  g_mime_message_set_date(msg, now);
  g_date_time_unref(now);
  std::vector<std::string> refs = o.references;
  if (!o.in_reply_to.empty()) {
    g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", bracket(o.in_reply_to).c_str(),
                             nullptr);
    if (std::find(refs.begin(), refs.end(), o.in_reply_to) == refs.end())
      refs.push_back(o.in_reply_to);
  }
  if (!refs.empty()) {
    std::string joined;
    for (const auto& r : refs) joined += (joined.empty() ? "" : " ") + bracket(r);
    g_mime_object_set_header(GMIME_OBJECT(msg), "References", joined.c_str(), nullptr);
  }
  GMimeTextPart* body = g_mime_text_part_new_with_subtype("plain");
  g_mime_text_part_set_text(body, o.text.c_str());
  g_mime_text_part_set_charset(body, "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(body), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  g_mime_message_set_mime_part(msg, GMIME_OBJECT(body));
  g_object_unref(body);
  GMimeFormatOptions* fo = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
  char* text = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
  std::string out = text ? text : "";
  g_free(text);
  g_mime_format_options_free(fo);
  g_object_unref(msg);
  return out;
}

struct smtp_client::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& ioc, const smtp_settings& s)
      : strand(asio::make_strand(ioc)), settings(s), tls(make_tls_context(s.ca_file, s.verify)) {}

  asio::strand<asio::io_context::executor_type> strand;
  smtp_settings settings;
  std::shared_ptr<asio::ssl::context> tls;

  struct reply {
    int code = 0;
    std::vector<std::string> lines;
  };

  asio::awaitable<reply> read_reply(transport& t, std::string& buf) {
    reply r;
    for (;;) {
      auto eol = buf.find("\r\n");
      if (eol == std::string::npos) {
        if (buf.size() > 64 * 1024) throw smtp_failure("SMTP reply line too long");
        char chunk[4096];
        std::size_t n = co_await t.read_some(chunk, sizeof chunk, settings.timeout);
        buf.append(chunk, n);
        continue;
      }
      std::string line = buf.substr(0, eol);
      buf.erase(0, eol + 2);
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])))
        throw smtp_failure("malformed SMTP reply '" + line.substr(0, 80) + "'");
      r.code = std::stoi(line.substr(0, 3));
      r.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (r.lines.size() > 200) throw smtp_failure("SMTP reply too long");
      if (line.size() == 3 || line[3] == ' ') co_return r;
    }
  }

  asio::awaitable<reply> step(transport& t, std::string& buf, const std::string& line,
                              int expect_class, const char* what) {
    co_await t.write(line + "\r\n", settings.timeout);
    reply r = co_await read_reply(t, buf);
    if (r.code / 100 != expect_class)
      throw smtp_failure(std::string(what) + " refused: " + std::to_string(r.code) + " " +
                         (r.lines.empty() ? "" : r.lines.back()));
    co_return r;
  }

  static bool offers(const reply& ehlo, std::string_view ext) {
    for (const auto& l : ehlo.lines) {
      std::string up;
      for (char c : l) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (up == ext || up.rfind(std::string(ext) + " ", 0) == 0) return true;
    }
    return false;
  }

  asio::awaitable<void> send(std::string rcpt, std::string message) {
    transport t(strand, tls);
    std::string buf;
    co_await t.connect(settings.host, settings.port, settings.timeout);
    if (settings.implicit_tls) co_await t.handshake(settings.host, settings.timeout);
    reply greeting = co_await read_reply(t, buf);
    if (greeting.code != 220) throw smtp_failure("SMTP greeting " + std::to_string(greeting.code));
    reply ehlo = co_await step(t, buf, "EHLO " + settings.helo, 2, "EHLO");
    if (!settings.implicit_tls && settings.starttls) {
      if (!offers(ehlo, "STARTTLS"))
        throw smtp_failure("SMTP server does not offer STARTTLS; refusing to send in clear");
      co_await step(t, buf, "STARTTLS", 2, "STARTTLS");
      buf.clear();
      co_await t.handshake(settings.host, settings.timeout);
      ehlo = co_await step(t, buf, "EHLO " + settings.helo, 2, "EHLO");
    }
    if (!settings.username.empty()) {
      std::string token =
          std::string(1, '\0') + settings.username + std::string(1, '\0') + settings.password;
      std::string b64(boost::beast::detail::base64::encoded_size(token.size()), '\0');
      b64.resize(boost::beast::detail::base64::encode(b64.data(), token.data(), token.size()));
      co_await step(t, buf, "AUTH PLAIN " + b64, 2, "AUTH");
    }
    co_await step(t, buf, "MAIL FROM:<" + settings.from + ">", 2, "MAIL FROM");
    co_await step(t, buf, "RCPT TO:<" + rcpt + ">", 2, "RCPT TO");
    co_await step(t, buf, "DATA", 3, "DATA");
    // Dot-stuffing (RFC 5321 4.5.2): a line starting with '.' gets one more.
    std::string data;
    data.reserve(message.size() + 64);
    bool line_start = true;
    for (char c : message) {
      if (line_start && c == '.') data += '.';
      data += c;
      line_start = c == '\n';
    }
    if (data.size() < 2 || data.substr(data.size() - 2) != "\r\n") data += "\r\n";
    co_await step(t, buf, data + ".", 2, "message");
    try {
      co_await t.write("QUIT\r\n", settings.timeout);
    } catch (const std::exception&) {  // sent already; the answer to QUIT does not matter
    }
    t.close();
  }
};

smtp_client::smtp_client(asio::io_context& ioc, smtp_settings s)
    : settings_(std::move(s)), impl_(std::make_shared<impl>(ioc, settings_)) {}

smtp_client::~smtp_client() = default;

void smtp_client::send(std::string recipient, std::string message,
                       std::function<void(std::string)> done) {
  auto self = impl_;
  asio::co_spawn(
      self->strand,
      [self, recipient = std::move(recipient), message = std::move(message),
       done]() -> asio::awaitable<void> {
        std::string error;
        try {
          co_await self->send(recipient, message);
        } catch (const std::exception& e) {
          error = e.what();
          if (error.empty()) error = "SMTP failed";
        }
        done(error);
      },
      asio::detached);
}

}  // namespace omni::connectors::imap
