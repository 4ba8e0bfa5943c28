// The email connector against a real Dovecot (tests/e2e/dovecot_harness.py): STARTTLS and
// implicit TLS, AUTHENTICATE PLAIN and LOGIN, IDLE and the polling fallback, MOVE and
// COPY + EXPUNGE, resume across restarts, Kafka refusals, too-large mail, and refusing to log in
// when STARTTLS is unavailable. The publisher here records contacts in memory (the e2e test uses
// the real Kafka path).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "connectors/imap/imap_connector.h"
#include "connectors/imap/resume.h"
#include "connectors/publisher.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "tests/connectors/imap/imap_dovecot.h"

namespace omni::connectors::imap {
namespace {

using namespace std::chrono_literals;

// Records every contact; answers `stored`, or `failed` for the first `fail_first` attempts.
class recording_publisher : public contact_publisher {
 public:
  void publish(const core::contact& c, publish_callback done) override {
    publish_status st;
    {
      std::lock_guard lock(mutex_);
      attempts_.push_back(c);
      st = fail_first_ > 0 ? (--fail_first_, publish_status::failed) : publish_status::stored;
      if (st == publish_status::stored) stored_.push_back(c);
    }
    done(st);
  }
  std::vector<core::contact> stored() const {
    std::lock_guard lock(mutex_);
    return stored_;
  }
  // Distinct contact ids stored (the Kafka publisher answers a re-publish "stored" without a copy).
  std::size_t distinct() const {
    std::lock_guard lock(mutex_);
    std::set<std::string> ids;
    for (const auto& c : stored_) ids.insert(c.id);
    return ids.size();
  }
  std::size_t attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_.size();
  }
  void fail_first(int n) {
    std::lock_guard lock(mutex_);
    fail_first_ = n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<core::contact> attempts_, stored_;
  int fail_first_ = 0;
};

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

class ImapDovecot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* level = std::getenv("OMNI_TEST_LOG"))
      core::log::init(level, core::log::sink_kind::console);
    state_dir_ = std::filesystem::temp_directory_path() /
                 ("omni-imap-state-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(state_dir_);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    connector_.reset();
    work_.reset();
    thread_.join();
    std::filesystem::remove_all(state_dir_);
  }

  settings base(const testing::dovecot& d, tls_mode mode = tls_mode::starttls) {
    settings s;
    s.name = "support";
    s.common.domain = "shop";
    s.server.host = "127.0.0.1";
    s.server.port =
        static_cast<std::uint16_t>(mode == tls_mode::implicit ? d.imaps_port : d.imap_port);
    s.server.tls = mode;
    s.server.ca_file = d.cert;
    s.username = d.user;
    s.password = d.password;
    s.address = "support@shop.example";
    s.reconnect_min = 50ms;
    s.reconnect_max = 200ms;
    s.timeout = 5s;
    s.poll_interval = 10min;  // IDLE must do the work unless a test says otherwise
    return s;
  }

  void start(settings s) {
    connector_.reset();
    context ctx{&ioc_, nullptr, &publisher_, state_dir_, "test-node"};
    connector_ = std::make_unique<imap_connector>(std::move(s), ctx);
    auto r = connector_->start();
    ASSERT_TRUE(r.ok()) << r.err().message;
  }
  void stop() {
    connector_->stop();
    connector_.reset();
  }

  const core::contact* by_subject(const std::vector<core::contact>& all, const std::string& s) {
    for (const auto& c : all)
      if (c.subject == s) return &c;
    return nullptr;
  }

  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::thread thread_;
  std::filesystem::path state_dir_;
  recording_publisher publisher_;
  std::unique_ptr<imap_connector> connector_;
};

TEST_F(ImapDovecot, StartTlsRoutesRussianMailMovesItAndResumesWithIdle) {
  testing::dovecot d;
  d.append("INBOX",
           {"koi8r.eml", "cp1251.eml", "iso88595.eml", "undeclared_8bit.eml", "html_only.eml",
            "attachments.eml", "reply.eml", "autoreply.eml", "bounce.eml", "no_message_id.eml"});
  start(base(d));
  ASSERT_TRUE(eventually([&] {
    return publisher_.stored().size() == 8 && d.uids("INBOX").empty();
  })) << connector_->last_error()
      << " stored " << publisher_.stored().size();
  auto all = publisher_.stored();
  const core::contact* koi = by_subject(all, "Заказ 123 не пришёл");
  ASSERT_NE(koi, nullptr);
  EXPECT_EQ(koi->text, "Здравствуйте!\nМой заказ 123 так и не пришёл. Что делать?\nИван");
  EXPECT_EQ(koi->customer.display_name, "Иван Петров");
  EXPECT_EQ(koi->domain, "shop");
  EXPECT_EQ(koi->to, "support@shop.example");
  EXPECT_EQ(koi->attributes.at("imap_mailbox"), "INBOX");
  ASSERT_NE(by_subject(all, "Возврат товара №5"), nullptr);
  ASSERT_NE(by_subject(all, "Счёт"), nullptr);
  ASSERT_NE(by_subject(all, "Где мой заказ?"), nullptr);
  const core::contact* html = by_subject(all, "HTML only");
  ASSERT_NE(html, nullptr);
  EXPECT_NE(html->text.find("Привет"), std::string::npos);
  const core::contact* docs = by_subject(all, "Documents");
  ASSERT_NE(docs, nullptr);
  ASSERT_EQ(docs->attachments.size(), 2u);
  EXPECT_EQ(docs->attachments[0].name, "Счёт №1.pdf");
  const core::contact* reply = by_subject(all, "Re: Заказ");
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->conversation, koi->conversation);  // the reply joins the thread
  EXPECT_EQ(by_subject(all, "Out of office"), nullptr);
  EXPECT_EQ(by_subject(all, "Undelivered Mail Returned to Sender"), nullptr);

  // Everything (auto-replies too) is in the processed folder; the state says UID 10.
  EXPECT_EQ(d.uids("Routed").size(), 10u);
  auto st = load_state(state_path(state_dir_, "INBOX"));
  ASSERT_TRUE(st.ok() && *st);
  EXPECT_EQ((*st)->last_uid, 10u);
  std::string metrics = core::metrics::global().render();
  EXPECT_NE(metrics.find("omniroute_imap_auto_replies_skipped_total{connector=\"support\"}"),
            std::string::npos);

  // A restart routes nothing twice; a new message arrives through IDLE (polling is 10 minutes).
  stop();
  start(base(d));
  ASSERT_TRUE(eventually([&] { return connector_->sessions_ready() == 1; }));
  d.append("INBOX", {"alternative.eml"});
  ASSERT_TRUE(eventually([&] { return publisher_.stored().size() == 9; }, 10s))
      << connector_->last_error();
  EXPECT_EQ(publisher_.stored().back().subject, "Café order");
  EXPECT_TRUE(eventually([&] { return d.uids("INBOX").empty(); }));
  EXPECT_EQ(publisher_.attempts(), 9u);
}

TEST_F(ImapDovecot, ImplicitTlsLoginTooLargeAndKafkaRefusal) {
  testing::dovecot d;
  std::string big = (d.dir() / "big.eml").string();
  {
    std::ofstream f(big, std::ios::binary);
    f << "From: bulkcustomer@example.com\r\nTo: support@shop.example\r\nSubject: Huge scan\r\n"
         "Message-ID: <big-1@example.com>\r\n\r\n"
      << std::string(8000, 'x') << "\r\n";
  }
  d.append("INBOX", {big, "cp1251.eml"});
  publisher_.fail_first(1);  // Kafka refuses the first contact: nothing advances, it is retried
  auto s = base(d, tls_mode::implicit);
  s.auth = auth_mechanism::login;
  s.max_message_size = 4096;
  start(s);
  ASSERT_TRUE(eventually([&] { return publisher_.distinct() == 2; })) << connector_->last_error();
  auto all = publisher_.stored();
  const core::contact* huge = by_subject(all, "Huge scan");
  ASSERT_NE(huge, nullptr);
  EXPECT_NE(huge->text.find("too large"), std::string::npos);
  EXPECT_GE(publisher_.attempts(), 3u);
  // The big one stays in the mailbox for a human; the other is moved.
  ASSERT_TRUE(eventually([&] { return d.uids("Routed").size() == 1; }));
  EXPECT_EQ(d.uids("INBOX"), std::vector<int>{1});
  // A restart does not route the left-behind message again.
  stop();
  std::size_t before = publisher_.attempts();
  start(s);
  ASSERT_TRUE(eventually([&] { return connector_->sessions_ready() == 1; }));
  d.append("INBOX", {"iso88595.eml"});
  ASSERT_TRUE(eventually([&] { return publisher_.distinct() == 3; }));
  EXPECT_EQ(publisher_.attempts(), before + 1);
  EXPECT_EQ(d.uids("INBOX"), std::vector<int>{1});
}

TEST_F(ImapDovecot, RefusesToLogInWithoutStartTls) {
  testing::dovecot d({"--no-tls"});
  d.append("INBOX", {"koi8r.eml"});
  auto logins = [&d] {
    std::string log = d.log();
    std::size_t n = 0;
    for (auto pos = log.find("Login: user"); pos != std::string::npos;
         pos = log.find("Login: user", pos + 1))
      ++n;
    return n;
  };
  std::size_t before = logins();  // the harness's own APPEND session
  auto s = base(d, tls_mode::starttls);
  s.server.ca_file = "";  // this Dovecot has no certificate at all
  start(s);
  ASSERT_TRUE(eventually([&] { return !connector_->last_error().empty(); }));
  EXPECT_NE(connector_->last_error().find("refusing to log in"), std::string::npos)
      << connector_->last_error();
  stop();
  EXPECT_EQ(publisher_.attempts(), 0u);
  EXPECT_EQ(logins(), before);  // the connector never sent its credentials
  EXPECT_EQ(d.uids("INBOX").size(), 1u);
}

TEST_F(ImapDovecot, PollsAndCopiesWhenServerLacksIdleAndMove) {
  testing::dovecot d({"--no-idle", "--no-move"});
  d.append("INBOX", {"koi8r.eml", "reply.eml"});
  auto s = base(d);
  s.poll_interval = 200ms;
  start(s);
  ASSERT_TRUE(eventually([&] { return publisher_.stored().size() == 2; }))
      << connector_->last_error();
  d.append("INBOX", {"cp1251.eml"});
  ASSERT_TRUE(eventually([&] { return publisher_.stored().size() == 3; }))
      << connector_->last_error();
  ASSERT_TRUE(eventually([&] { return d.uids("INBOX").empty(); }));
  EXPECT_EQ(d.uids("Routed").size(), 3u);
}

TEST_F(ImapDovecot, IdleIsReissuedAfterIdleRefresh) {
  testing::dovecot d;
  auto s = base(d);
  s.name = "refresh";
  s.idle_refresh = 300ms;  // production: 28m, under the 30-minute limit of RFC 2177
  start(s);
  auto refreshes = [] {
    return testing::metric("omniroute_imap_idle_refreshes_total{connector=\"refresh\"}");
  };
  ASSERT_TRUE(eventually([&] { return refreshes() >= 3; })) << connector_->last_error();
  d.append("INBOX", {"koi8r.eml"});  // still listening after the re-issues
  ASSERT_TRUE(eventually([&] { return publisher_.stored().size() == 1; }))
      << connector_->last_error();
  EXPECT_EQ(testing::metric("omniroute_imap_reconnects_total{connector=\"refresh\"}"), 0);
}

TEST_F(ImapDovecot, UidValidityChangeResyncsWithSameContactIds) {
  testing::dovecot d;
  d.append("INBOX", {"koi8r.eml", "cp1251.eml"});
  ASSERT_TRUE(save_state(state_path(state_dir_, "INBOX"), {"INBOX", 1, 500}).ok());
  start(base(d));
  ASSERT_TRUE(eventually([&] { return publisher_.stored().size() == 2; }))
      << connector_->last_error();
  auto state = [&] {
    auto st = load_state(state_path(state_dir_, "INBOX"));
    return st.ok() && *st ? **st : mailbox_state{};
  };
  ASSERT_TRUE(eventually([&] { return state().last_uid == 2; }));
  EXPECT_NE(state().uidvalidity, 1u);
  EXPECT_EQ(publisher_.stored()[0].id, core::contact_id("imap", "support:koi8-1@example.ru"));
}

}  // namespace
}  // namespace omni::connectors::imap
