// Outbound email: agent replies built by GMime with In-Reply-To / References and sent through
// SMTP submission (STARTTLS + AUTH PLAIN) to a real SMTP server (aiosmtpd, tests/e2e/smtp_sink.py);
// refusing to send in clear when STARTTLS is missing. And the connector's configuration errors.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <thread>

#include "config/config.h"
#include "connectors/imap/imap_connector.h"
#include "connectors/publisher.h"
#include "connectors/registry.h"
#include "core/metrics/metrics.h"
#include "tests/connectors/imap/imap_dovecot.h"
#include "tests/connectors/support.h"

namespace omni::connectors::imap {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

core::outbound reply() {
  core::outbound o;
  o.id = "out-1";
  o.kind = core::outbound_kind::reply;
  o.chan = core::channel::email;
  o.provider = "imap";
  o.conversation = "email:koi8-1@example.ru";
  o.recipient = {"email", "ivan.petrov@example.ru"};
  o.subject = "Re: Заказ 123 не пришёл";
  o.text = "Иван, здравствуйте!\n.\nЗаказ отправлен сегодня.";  // a lone dot line: dot-stuffing
  o.in_reply_to = "reply-2@example.ru";
  o.references = {"koi8-1@example.ru", "agent-reply-1@shop.example"};
  return o;
}

smtp_settings smtp_for(const testing::smtp_sink& sink) {
  smtp_settings s;
  s.host = "127.0.0.1";
  s.port = static_cast<std::uint16_t>(sink.port);
  s.ca_file = sink.cert;
  s.username = "agent";
  s.password = "pw-1";
  s.from = "support@shop.example";
  s.from_name = "Служба поддержки";
  s.timeout = 5s;
  return s;
}

TEST(ImapSmtp, ReplyThreadsAndRoundTripsThroughMime) {
  smtp_settings s;
  s.from = "support@shop.example";
  s.from_name = "Служба поддержки";
  std::string raw = build_reply(s, reply(), "out-1.support@shop.example");
  EXPECT_NE(raw.find("\r\n"), std::string::npos);
  auto m = parse_mail(raw, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->subject, "Re: Заказ 123 не пришёл");
  EXPECT_EQ(m->in_reply_to, "reply-2@example.ru");
  EXPECT_EQ(m->references,
            (std::vector<std::string>{"koi8-1@example.ru", "agent-reply-1@shop.example",
                                      "reply-2@example.ru"}));
  EXPECT_EQ(m->thread_root(), "koi8-1@example.ru");  // the customer's client threads it
  EXPECT_EQ(m->from_address, "support@shop.example");
  EXPECT_EQ(m->from_name, "Служба поддержки");
  EXPECT_EQ(m->message_id, "out-1.support@shop.example");
  EXPECT_EQ(m->text, "Иван, здравствуйте!\n.\nЗаказ отправлен сегодня.");
}

class ImapSmtpSink : public ::testing::Test {
 protected:
  void TearDown() override {
    if (connector_) connector_->stop();
    connector_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  void start(smtp_settings smtp) {
    settings s;
    s.name = "support";
    s.server = {"127.0.0.1", 1, tls_mode::none, "", false};  // nothing listens: IMAP side idles
    s.username = s.password = "x";
    s.reconnect_min = 1s;
    s.smtp = std::move(smtp);
    context ctx{&ioc_, nullptr, &publisher_, std::filesystem::temp_directory_path(), "n"};
    connector_ = std::make_unique<imap_connector>(std::move(s), ctx);
    ASSERT_TRUE(connector_->start().ok());
    thread_ = std::thread([this] { ioc_.run(); });
  }

  struct no_publisher : contact_publisher {
    void publish(const core::contact&, publish_callback done) override {
      done(publish_status::failed);
    }
  } publisher_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::thread thread_;
  std::unique_ptr<imap_connector> connector_;
};

TEST_F(ImapSmtpSink, DeliverSendsOverStartTlsWithAuth) {
  testing::smtp_sink sink({"--tls", "--auth", "agent:pw-1"});
  start(smtp_for(sink));
  double sent = testing::metric("omniroute_smtp_sent_total{connector=\"support\"}");
  core::outbound chat = reply();
  chat.chan = core::channel::chat;
  EXPECT_FALSE(connector_->deliver(chat));  // not email: someone else's
  core::outbound other = reply();
  other.attributes["imap_connector"] = "sales";
  EXPECT_FALSE(connector_->deliver(other));  // another email connector's conversation
  ASSERT_TRUE(connector_->deliver(reply()));
  ASSERT_TRUE(eventually([&] { return !sink.message(1).empty(); }));
  auto m = parse_mail(sink.message(1), {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->in_reply_to, "reply-2@example.ru");
  EXPECT_EQ(m->text,
            "Иван, здравствуйте!\n.\nЗаказ отправлен сегодня.");  // dot-stuffing undone
  std::string env = sink.envelope(1);
  EXPECT_NE(env.find("\"tls\": true"), std::string::npos) << env;
  EXPECT_NE(env.find("\"auth\": true"), std::string::npos) << env;
  EXPECT_NE(env.find("ivan.petrov@example.ru"), std::string::npos) << env;
  EXPECT_TRUE(eventually([&] {
    return testing::metric("omniroute_smtp_sent_total{connector=\"support\"}") == sent + 1;
  }));
  // The dispatcher re-reading the same record does not send it twice.
  // (Sent first, a duplicate would be the sink's second message instead of the next reply.)
  EXPECT_TRUE(connector_->deliver(reply()));
  core::outbound next = reply();
  next.id = "out-2";
  ASSERT_TRUE(connector_->deliver(next));
  ASSERT_TRUE(eventually([&] { return !sink.message(2).empty(); }));
  auto second = parse_mail(sink.message(2), {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->message_id, "out-2.support@shop.example");
}

TEST_F(ImapSmtpSink, RefusesToSendWithoutStartTls) {
  testing::smtp_sink sink;  // no TLS offered
  auto smtp = smtp_for(sink);
  smtp.ca_file = "";  // this sink has no certificate
  start(smtp);
  double failed = testing::metric("omniroute_smtp_failed_total{connector=\"support\"}");
  ASSERT_TRUE(connector_->deliver(reply()));
  ASSERT_TRUE(eventually([&] {
    return testing::metric("omniroute_smtp_failed_total{connector=\"support\"}") == failed + 1;
  }));
  EXPECT_EQ(sink.message(1), "");
}

// ---- configuration ----------------------------------------------------------------------------

using test_support::config_errors;

TEST(ImapConfig, ValidEntryMakesAConnector) {
  auto loaded = config::load_string(
      "connectors:\n  - type: imap\n    name: support\n    server: imap.example.com:993\n"
      "    username: support@example.com\n    password: pw\n    smtp:\n"
      "      server: smtp.example.com:587\n      from: support@example.com\n",
      "c.yaml");
  ASSERT_TRUE(loaded.ok());
  config::diagnostics sink;
  auto made = create_all(*loaded.config, sink, context{});
  EXPECT_TRUE(sink.empty());
  ASSERT_EQ(made.size(), 1u);
  auto* c = dynamic_cast<imap_connector*>(made[0].get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->config().server.tls, tls_mode::implicit);
  EXPECT_EQ(c->config().processed_folder, "Routed");
  ASSERT_TRUE(c->config().smtp);
  EXPECT_TRUE(c->config().smtp->starttls);
}

TEST(ImapConfig, ErrorsPointAtTheKey) {
  auto e = config_errors("  - type: imap\n    name: m\n");
  ASSERT_EQ(e.size(), 3u);  // server, username, password
  for (const auto& d : e) EXPECT_NE(d.message.find("required"), std::string::npos) << d.message;

  e = config_errors(
      "  - type: imap\n    name: m\n    server: mail.example.com:143\n    tls: none\n"
      "    username: u\n    password: p\n    idle_refresh: 30m\n"
      "    fallback_charsets: [koi8-r, klingon-8]\n    mailbxes: [INBOX]\n");
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].line, 5);  // tls
  EXPECT_NE(e[0].message.find("clear"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 8);  // idle_refresh
  EXPECT_NE(e[1].message.find("29m"), std::string::npos) << e[1].message;
  EXPECT_EQ(e[2].line, 9);
  EXPECT_NE(e[2].message.find("klingon-8"), std::string::npos) << e[2].message;
  EXPECT_EQ(e[3].line, 10);
  EXPECT_NE(e[3].message.find("did you mean 'mailboxes'"), std::string::npos) << e[3].message;

  e = config_errors(
      "  - type: imap\n    name: m\n    server: 127.0.0.1:143\n    tls: none\n"
      "    username: u\n    password: p\n    processed_keyword: \"my flag\"\n"
      "    processed_folder: INBOX\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].line, 8);
  EXPECT_NE(e[0].message.find("keyword"), std::string::npos) << e[0].message;
  EXPECT_EQ(e[1].line, 9);
  EXPECT_NE(e[1].message.find("must differ"), std::string::npos) << e[1].message;
}

}  // namespace
}  // namespace omni::connectors::imap
