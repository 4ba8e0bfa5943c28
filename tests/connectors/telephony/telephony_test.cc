// The telephony connectors wired as the daemon wires them (registry factory from YAML, embedded
// Kafka, real publishers), against in-test PBXs that speak AMI and ESL over TCP as documented:
// banners, logins, CRLF / Content-Length framing, URL-encoded values, writes split mid-line,
// bursts, unknown events, dropped connections.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "connectors/telephony/ami.h"
#include "connectors/telephony/pbx_client.h"
#include "core/http/testing/self_signed.h"
#include "tests/connectors/webhook_fixture.h"

namespace omni::connectors {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = core::http;
using tcp = asio::ip::tcp;

// A PBX the test scripts. Accepts connections one after another on a free loopback port; each runs
// `script(socket, n)` on the server thread (n = 0, 1, ...); returning closes the connection.
class fake_pbx {
 public:
  using script = std::function<void(tcp::socket&, int)>;

  explicit fake_pbx(script s) : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, s = std::move(s)] {
      for (int n = 0;; ++n) {
        tcp::socket sock(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(sock, ec);
        if (ec || stopping_) return;
        {
          std::lock_guard lock(mutex_);
          current_ = sock.native_handle();
        }
        try {
          s(sock, n);
        } catch (const std::exception&) {  // the client went away mid-script
        }
        std::lock_guard lock(mutex_);
        current_ = -1;
        ++finished_;
      }
    });
  }

  ~fake_pbx() {
    stopping_ = true;
    {
      std::lock_guard lock(mutex_);
      if (current_ >= 0) ::shutdown(current_, SHUT_RDWR);  // wakes a blocked read
    }
    boost::system::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);  // wakes accept()
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  int finished() const { return finished_; }

  static void send(tcp::socket& s, std::string_view bytes) { asio::write(s, asio::buffer(bytes)); }

  // Writes in small pieces, each flushed on its own, so the client reads lines split anywhere.
  static void send_split(tcp::socket& s, std::string_view bytes, std::size_t piece = 7) {
    s.set_option(tcp::no_delay(true));
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      send(s, bytes.substr(i, piece));
      if ((i / piece) % 16 == 0) std::this_thread::sleep_for(1ms);
    }
  }

  // Reads up to and including `delimiter` (the rest stays in `buf`).
  static std::string read(tcp::socket& s, asio::streambuf& buf, std::string_view delimiter) {
    std::size_t n = asio::read_until(s, buf, std::string(delimiter));
    std::string out(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    buf.consume(n);
    return out;
  }

  // Blocks until the client closes the connection (or the test ends).
  static void hold(tcp::socket& s) {
    char c;
    boost::system::error_code ec;
    while (!ec) s.read_some(asio::buffer(&c, 1), ec);
  }

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  int current_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> finished_{0};
};

// Waits for `pred` with a deadline (no fixed sleeps).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// ---- AMI ----------------------------------------------------------------------------------------

constexpr std::string_view ami_banner = "Asterisk Call Manager/6.0.0\r\n";
constexpr std::string_view ami_accepted =
    "Response: Success\r\nActionID: omni-login\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 1\r\nStatus: Fully Booted\r\n\r\n";

std::string linkedid(int call) { return "1795405068." + std::to_string(call * 10); }

std::string ami_newchannel(int call, const std::string& number, const std::string& name = "") {
  std::string id = linkedid(call);
  return "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-" +
         std::to_string(1000 + call) +
         "\r\nChannelState: 0\r\nChannelStateDesc: Down\r\nCallerIDNum: " + number +
         "\r\nCallerIDName: " + (name.empty() ? "<unknown>" : name) +
         "\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: ru\r\n"
         "AccountCode: \r\nContext: from-trunk\r\nExten: 74951234567\r\nPriority: 1\r\n"
         "Uniqueid: " +
         id + "\r\nLinkedid: " + id + "\r\n\r\n";
}

std::string ami_dial(int call, const std::string& status_or_begin, const std::string& ext) {
  std::string id = linkedid(call);
  std::string agent_leg = "1795405068." + std::to_string(call * 10 + 1);
  bool begin = status_or_begin == "begin";
  return std::string("Event: ") + (begin ? "DialBegin" : "DialEnd") +
         "\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-" + std::to_string(1000 + call) +
         "\r\nUniqueid: " + id + "\r\nLinkedid: " + id + "\r\nDestChannel: PJSIP/" + ext +
         "-00000002\r\nDestCallerIDNum: " + ext + "\r\nDestExten: " + ext +
         "\r\nDestUniqueid: " + agent_leg + "\r\nDestLinkedid: " + id + "\r\nDialString: " + ext +
         "\r\n" + (begin ? "" : "DialStatus: " + status_or_begin + "\r\n") + "\r\n";
}

std::string ami_hangup(int call, bool agent_leg = false) {
  std::string id = linkedid(call);
  std::string unique = agent_leg ? "1795405068." + std::to_string(call * 10 + 1) : id;
  return "Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/x\r\nUniqueid: " + unique +
         "\r\nLinkedid: " + id + "\r\nCause: 16\r\nCause-txt: Normal Clearing\r\n\r\n";
}

// Logs in: banner, then checks the Login and accepts it.
void ami_login(tcp::socket& s, asio::streambuf& buf) {
  fake_pbx::send(s, ami_banner);
  std::string login = fake_pbx::read(s, buf, "\r\n\r\n");
  EXPECT_NE(login.find("Action: Login\r\n"), std::string::npos) << login;
  EXPECT_NE(login.find("Username: omni\r\n"), std::string::npos) << login;
  EXPECT_NE(login.find("Secret: s3cret\r\n"), std::string::npos) << login;
  EXPECT_NE(login.find("Events: call,agent\r\n"), std::string::npos) << login;
  fake_pbx::send(s, ami_accepted);
}

class telephony_ami : public testing::webhook_fixture {
 protected:
  void start_asterisk(std::uint16_t port, const std::string& auth = "plain") {
    start(
        "  - type: asterisk\n    name: pbx\n    domain: acme\n    host: 127.0.0.1\n"
        "    port: " +
        std::to_string(port) + "\n    username: omni\n    secret: s3cret\n    auth: " + auth +
        "\n    reconnect_min: 20ms\n    reconnect_max: 200ms\n    caller_id_wait: 300ms\n"
        "    agents: {\"101\": alice, \"102\": bob}\n");
  }
  telephony::pbx_client& client() {
    return dynamic_cast<telephony::pbx_client&>(*connectors_.at(0));
  }
  // Records on the agent events topic (cheap: no consumer group).
  std::int64_t stored_events() {
    auto n = core::bus::message_count(kafka_, agent_topic, 5s);
    return n ? *n : -1;
  }
  double counter(const std::string& what) {
    return metric("omniroute_telephony_" + what + "_total{connector=\"pbx\"}");
  }
};

TEST_F(telephony_ami, inbound_call_answered_and_hung_up_split_mid_line) {
  fake_pbx pbx([](tcp::socket& s, int) {
    asio::streambuf buf;
    ami_login(s, buf);
    fake_pbx::send_split(s, ami_newchannel(1, "89123456789", "Иван Петров") +
                                ami_dial(1, "begin", "101") + ami_dial(1, "ANSWER", "101") +
                                ami_hangup(1, true) + ami_hangup(1));
    fake_pbx::hold(s);
  });
  start_asterisk(pbx.port());
  ASSERT_TRUE(eventually([&] { return stored() == 1 && stored_events() == 2; }));
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 1u);
  const core::contact& c = cs[0];
  EXPECT_EQ(c.chan, core::channel::voice);
  EXPECT_EQ(c.provider, "asterisk");
  EXPECT_EQ(c.domain, "acme");
  EXPECT_EQ(c.id, core::contact_id("asterisk", "pbx:" + linkedid(1)));
  EXPECT_EQ(c.conversation, "asterisk:pbx:" + linkedid(1));
  EXPECT_EQ(c.customer.identities, (std::vector<core::identity>{{"phone", "+79123456789"}}));
  EXPECT_EQ(c.customer.display_name, "Иван Петров");
  EXPECT_EQ(c.to, "74951234567");
  EXPECT_EQ(c.attributes.at("asterisk_context"), "from-trunk");
  auto events = agent_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, core::agent_event_type::accept);
  EXPECT_EQ(events[0].agent_id, "alice");
  EXPECT_EQ(events[0].contact_id, c.id);
  EXPECT_EQ(events[1].type, core::agent_event_type::complete);
  EXPECT_EQ(events[1].disposition, "Normal Clearing");
  EXPECT_TRUE(client().ready());
}

TEST_F(telephony_ami, md5_login_is_checked_by_the_server) {
  std::atomic<bool> key_ok{false};
  fake_pbx pbx([&](tcp::socket& s, int) {
    asio::streambuf buf;
    fake_pbx::send(s, ami_banner);
    std::string challenge = fake_pbx::read(s, buf, "\r\n\r\n");
    EXPECT_NE(challenge.find("Action: Challenge\r\n"), std::string::npos);
    EXPECT_NE(challenge.find("AuthType: MD5\r\n"), std::string::npos);
    fake_pbx::send(s,
                   "Response: Success\r\nActionID: omni-challenge\r\nChallenge: 517240563\r\n\r\n");
    std::string login = fake_pbx::read(s, buf, "\r\n\r\n");
    key_ok =
        login.find("Key: " + telephony::md5_hex("517240563s3cret") + "\r\n") != std::string::npos &&
        login.find("s3cret") == std::string::npos;
    fake_pbx::send(s, ami_accepted);
    fake_pbx::hold(s);
  });
  start_asterisk(pbx.port(), "md5");
  ASSERT_TRUE(eventually([&] { return client().ready(); }));
  EXPECT_TRUE(key_ok);
}

TEST_F(telephony_ami, refused_login_is_counted_and_retried) {
  fake_pbx pbx([](tcp::socket& s, int n) {
    asio::streambuf buf;
    if (n == 0) {
      fake_pbx::send(s, ami_banner);
      (void)fake_pbx::read(s, buf, "\r\n\r\n");
      fake_pbx::send(
          s, "Response: Error\r\nActionID: omni-login\r\nMessage: Authentication failed\r\n\r\n");
      return;  // Asterisk closes after a failed login
    }
    ami_login(s, buf);
    fake_pbx::hold(s);
  });
  double before = counter("auth_failures");
  start_asterisk(pbx.port());
  ASSERT_TRUE(eventually([&] { return client().ready(); }));
  EXPECT_EQ(counter("auth_failures"), before + 1);
  EXPECT_EQ(client().connections(), 2u);
  EXPECT_EQ(metric("omniroute_telephony_connected{connector=\"pbx\"}"), 1);
}

// Hundreds of calls in one burst with unknown events and a malformed line among them; the PBX
// drops the connection in the middle and, after the reconnect, sends the last calls again.
TEST_F(telephony_ami, burst_drop_and_replay_store_every_call_once) {
  constexpr int calls = 300;
  auto call_events = [](int i) {
    std::string s = ami_newchannel(i, "8912" + std::to_string(1000000 + i));
    s += "Event: VarSet\r\nPrivilege: dialplan,all\r\nVariable: X\r\nValue: 1\r\nUniqueid: " +
         linkedid(i) + "\r\nLinkedid: " + linkedid(i) + "\r\n\r\n";
    if (i % 50 == 7) s += "Event: Garbage\r\nno colon on this line\r\n\r\n";
    s += ami_hangup(i);  // nobody answered: abandoned
    return s;
  };
  fake_pbx pbx([&](tcp::socket& s, int n) {
    asio::streambuf buf;
    ami_login(s, buf);
    std::string burst;
    if (n == 0) {
      for (int i = 0; i < 200; ++i) burst += call_events(i);
      fake_pbx::send(s, burst);
      return;  // dropped without a goodbye
    }
    for (int i = 150; i < calls; ++i) burst += call_events(i);  // 150..199 again
    fake_pbx::send_split(s, burst, 4096);
    fake_pbx::hold(s);
  });
  double reconnects = counter("reconnects"), bad = counter("bad_frames");
  start_asterisk(pbx.port());
  ASSERT_TRUE(eventually([&] { return stored() >= 2 * calls; }, 60s)) << stored();
  EXPECT_TRUE(eventually([&] { return client().connections() == 2; }));
  auto cs = contacts();
  EXPECT_EQ(cs.size(), 2u * calls);  // every call and its abandonment, nothing twice
  std::set<std::string> ids;
  int abandoned = 0;
  for (const auto& c : cs) {
    ids.insert(c.id);
    if (c.kind == core::contact_kind::abandoned) {
      ++abandoned;
      EXPECT_EQ(c.attributes.at("contact_id"),
                core::contact_id("asterisk", "pbx:" + c.attributes.at("call_id")));
    }
  }
  EXPECT_EQ(ids.size(), 2u * calls);
  EXPECT_EQ(abandoned, calls);
  EXPECT_GE(counter("reconnects"), reconnects + 1);
  EXPECT_GE(counter("bad_frames"), bad + 4);  // calls 7, 57, ... 157 (157 twice) and 207...
  EXPECT_EQ(stored_events(), 0);
}

TEST_F(telephony_ami, withheld_number_routes_as_an_unknown_caller) {
  fake_pbx pbx([](tcp::socket& s, int) {
    asio::streambuf buf;
    ami_login(s, buf);
    // Call 1 gets its number later (NewCallerid); call 2 never does and is routed at DialBegin.
    fake_pbx::send(s, ami_newchannel(1, "<unknown>") + "Event: NewCallerid\r\nUniqueid: " +
                          linkedid(1) + "\r\nLinkedid: " + linkedid(1) +
                          "\r\nCallerIDNum: +7 (912) 000-11-22\r\nCallerIDName: Olga\r\n\r\n" +
                          ami_newchannel(2, "<unknown>") + ami_dial(2, "begin", "102"));
    fake_pbx::hold(s);
  });
  start_asterisk(pbx.port());
  ASSERT_TRUE(eventually([&] { return stored() == 2; }));
  auto cs = contacts();
  ASSERT_EQ(cs.size(), 2u);
  std::map<std::string, core::contact> by_call;
  for (auto& c : cs) by_call[c.attributes.at("call_id")] = c;
  EXPECT_EQ(by_call[linkedid(1)].customer.identities,
            (std::vector<core::identity>{{"phone", "+79120001122"}}));
  EXPECT_EQ(by_call[linkedid(1)].customer.display_name, "Olga");
  EXPECT_TRUE(by_call[linkedid(2)].customer.identities.empty());
  EXPECT_EQ(by_call[linkedid(2)].attributes.at("caller_withheld"), "true");
}

// Nothing is acknowledged to a PBX, so a contact Kafka cannot store is retried, then counted and
// logged as lost.
TEST_F(telephony_ami, kafka_down_retries_then_counts_the_loss) {
  std::atomic<bool> go{false};
  fake_pbx pbx([&](tcp::socket& s, int) {
    asio::streambuf buf;
    ami_login(s, buf);
    while (!go) std::this_thread::sleep_for(10ms);
    fake_pbx::send(s, ami_newchannel(1, "+79123456789"));
    fake_pbx::hold(s);
  });
  double before = counter("publish_failures");
  start_asterisk(pbx.port());
  ASSERT_TRUE(eventually([&] { return client().ready(); }));
  take_kafka_down();
  go = true;
  EXPECT_TRUE(eventually([&] { return counter("publish_failures") == before + 1; }, 40s));
  EXPECT_TRUE(client().ready());  // the PBX connection is not the problem: it stays up
}

// An Asterisk manager behind TLS with a self-signed certificate for "localhost": logs the client
// in and sends one unanswered call, per connection, until the test ends.
class fake_tls_ami {
 public:
  fake_tls_ami() : acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    ctx_.use_certificate_chain_file(material.cert);
    ctx_.use_private_key_file(material.key, asio::ssl::context::pem);
    thread_ = std::thread([this] {
      while (!done_) {
        try {
          asio::ssl::stream<tcp::socket> tls(ioc_, ctx_);
          acceptor_.accept(tls.next_layer());
          if (done_) return;
          tls.handshake(asio::ssl::stream_base::server);
          asio::write(tls, asio::buffer(ami_banner));
          asio::streambuf buf;
          asio::read_until(tls, buf, "\r\n\r\n");
          asio::write(tls, asio::buffer(ami_accepted));
          asio::write(tls, asio::buffer(ami_newchannel(1, "+79123456789") + ami_hangup(1)));
          boost::system::error_code ec;
          char c;
          while (!ec && !done_) tls.next_layer().read_some(asio::buffer(&c, 1), ec);
        } catch (const std::exception&) {  // the client refused us or hung up
        }
      }
    });
  }
  // Call after the client stopped (its socket closed).
  void stop() {
    done_ = true;
    boost::system::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  http::testing::self_signed material;

 private:
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::ssl::context ctx_{asio::ssl::context::tls_server};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::string tls_asterisk(const std::string& host, std::uint16_t port, const std::string& ca) {
  return "  - type: asterisk\n    name: pbx\n    host: " + host +
         "\n    port: " + std::to_string(port) +
         "\n    username: omni\n    secret: s3cret\n    auth: plain\n    tls: true\n"
         "    reconnect_min: 20ms\n    reconnect_max: 100ms\n    tls_ca: " +
         ca + "\n";
}

// AMI over TLS: the PBX's certificate is verified against the configured CA and host name.
TEST_F(telephony_ami, tls_login_and_call) {
  fake_tls_ami pbx;
  start(tls_asterisk("localhost", pbx.port(), pbx.material.cert));
  EXPECT_TRUE(eventually([&] { return stored() == 2; }));
  EXPECT_TRUE(client().ready());
  connectors_.at(0)->stop();
  pbx.stop();
}

TEST_F(telephony_ami, tls_refuses_a_certificate_for_another_host) {
  fake_tls_ami pbx;
  start(
      tls_asterisk("127.0.0.1", pbx.port(), pbx.material.cert));  // the certificate says localhost
  EXPECT_TRUE(eventually([&] { return client().connections() >= 3; }));
  EXPECT_FALSE(client().ready());
  EXPECT_EQ(stored(), 0);
  connectors_.at(0)->stop();
  pbx.stop();
}

// ---- FreeSWITCH ESL -----------------------------------------------------------------------------

std::string esl_frame(const std::string& body) {
  return "Content-Length: " + std::to_string(body.size()) + "\nContent-Type: text/event-plain\n\n" +
         body;
}

std::string esl_create(int call, const std::string& number_encoded) {
  return esl_frame(
      "Event-Name: CHANNEL_CREATE\nCore-UUID: 6d5f1f4e\nFreeSWITCH-Hostname: fs1\n"
      "Event-Date-Local: 2026-11-23%2007%3A00%3A00\nUnique-ID: call-" +
      std::to_string(call) + "\nCall-Direction: inbound\nChannel-Name: sofia/external/" +
      number_encoded +
      "%40carrier\nCaller-Caller-ID-Name: %D0%9E%D0%BB%D1%8C%D0%B3%D0%B0\n"
      "Caller-Caller-ID-Number: " +
      number_encoded + "\nCaller-Destination-Number: 74951234567\nCaller-Context: public\n\n");
}

std::string esl_agent_answer(int call, const std::string& ext) {
  return esl_frame("Event-Name: CHANNEL_ANSWER\nUnique-ID: leg-" + std::to_string(call) +
                   "\nCall-Direction: outbound\nOther-Leg-Unique-ID: call-" + std::to_string(call) +
                   "\nCaller-Destination-Number: " + ext + "\nvariable_dialed_user: " + ext +
                   "\n\n");
}

std::string esl_hangup(int call, const std::string& cause) {
  return esl_frame("Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: call-" + std::to_string(call) +
                   "\nCall-Direction: inbound\nHangup-Cause: " + cause + "\n\n");
}

void esl_login(tcp::socket& s, asio::streambuf& buf, bool accept = true) {
  fake_pbx::send(s, "Content-Type: auth/request\n\n");
  EXPECT_EQ(fake_pbx::read(s, buf, "\n\n"), "auth ClueCon\n\n");
  if (!accept) {
    fake_pbx::send(s, "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n");
    return;
  }
  fake_pbx::send(s, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n");
  EXPECT_EQ(fake_pbx::read(s, buf, "\n\n"),
            "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n");
  fake_pbx::send(s,
                 "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n");
}

class telephony_esl : public telephony_ami {
 protected:
  void start_freeswitch(std::uint16_t port) {
    start(
        "  - type: freeswitch\n    name: pbx\n    domain: acme\n    host: 127.0.0.1\n"
        "    port: " +
        std::to_string(port) +
        "\n    password: ClueCon\n    reconnect_min: 20ms\n    reconnect_max: 200ms\n"
        "    agents: {\"1001\": alice}\n");
  }
};

TEST_F(telephony_esl, inbound_call_url_decoded_answered_by_agent_leg) {
  fake_pbx pbx([](tcp::socket& s, int) {
    asio::streambuf buf;
    esl_login(s, buf);
    fake_pbx::send_split(s,
                         esl_create(1, "%2B79123456789") +
                             esl_frame("Event-Name: HEARTBEAT\nUp-Time: 0%20years\n\n") +
                             esl_agent_answer(1, "1001") + esl_hangup(1, "NORMAL_CLEARING") +
                             esl_create(2, "8%20(912)%20765-43-21") +
                             esl_hangup(2, "ORIGINATOR_CANCEL"),
                         5);
    fake_pbx::hold(s);
  });
  start_freeswitch(pbx.port());
  ASSERT_TRUE(eventually([&] { return stored() == 3 && stored_events() == 2; }));
  std::map<std::string, core::contact> by_id;
  for (auto& c : contacts()) by_id[c.id] = c;
  const core::contact& c1 = by_id.at(core::contact_id("freeswitch", "pbx:call-1"));
  EXPECT_EQ(c1.customer.identities, (std::vector<core::identity>{{"phone", "+79123456789"}}));
  EXPECT_EQ(c1.customer.display_name, "Ольга");
  EXPECT_EQ(c1.to, "74951234567");
  EXPECT_EQ(c1.attributes.at("freeswitch_channel"), "sofia/external/+79123456789@carrier");
  const core::contact& c2 = by_id.at(core::contact_id("freeswitch", "pbx:call-2"));
  EXPECT_EQ(c2.customer.identities, (std::vector<core::identity>{{"phone", "+79127654321"}}));
  int abandoned = 0;
  for (auto& [id, c] : by_id)
    if (c.kind == core::contact_kind::abandoned) {
      ++abandoned;
      EXPECT_EQ(c.attributes.at("contact_id"), c2.id);
      EXPECT_EQ(c.attributes.at("hangup_cause"), "ORIGINATOR_CANCEL");
    }
  EXPECT_EQ(abandoned, 1);
  auto events = agent_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, core::agent_event_type::accept);
  EXPECT_EQ(events[0].agent_id, "alice");
  EXPECT_EQ(events[0].contact_id, c1.id);
  EXPECT_EQ(events[1].type, core::agent_event_type::complete);
  EXPECT_EQ(events[1].disposition, "NORMAL_CLEARING");
}

TEST_F(telephony_esl, refused_auth_disconnect_notice_and_replay) {
  fake_pbx pbx([](tcp::socket& s, int n) {
    asio::streambuf buf;
    if (n == 0) return esl_login(s, buf, false);
    esl_login(s, buf);
    std::string burst;
    for (int i = 0; i < 200; ++i) burst += esl_create(i, "%2B7912" + std::to_string(1000000 + i));
    if (n == 1) {
      fake_pbx::send(
          s, burst + "Content-Type: text/disconnect-notice\nContent-Length: 9\n\nBye bye\n\n");
      return;
    }
    fake_pbx::send(s, burst);  // the same calls again after the reconnect
    fake_pbx::hold(s);
  });
  double auth = counter("auth_failures");
  start_freeswitch(pbx.port());
  ASSERT_TRUE(eventually([&] { return client().connections() == 3 && client().ready(); }));
  ASSERT_TRUE(eventually([&] { return stored() >= 200; }));
  auto cs = contacts();
  std::set<std::string> ids;
  for (auto& c : cs) ids.insert(c.id);
  EXPECT_EQ(cs.size(), 200u);
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(counter("auth_failures"), auth + 1);
}

TEST_F(telephony_esl, broken_framing_reconnects) {
  fake_pbx pbx([](tcp::socket& s, int n) {
    asio::streambuf buf;
    esl_login(s, buf);
    if (n == 0) {
      fake_pbx::send(s, "Content-Length: lots\nContent-Type: text/event-plain\n\n");
      fake_pbx::hold(s);
      return;
    }
    fake_pbx::send(s, esl_create(1, "%2B79123456789"));
    fake_pbx::hold(s);
  });
  double bad = counter("bad_frames");
  start_freeswitch(pbx.port());
  ASSERT_TRUE(eventually([&] { return stored() == 1; }));
  EXPECT_EQ(client().connections(), 2u);
  EXPECT_GE(counter("bad_frames"), bad + 1);
}

// ---- HTTP CTI -----------------------------------------------------------------------------------

class telephony_cti : public testing::webhook_fixture {
 protected:
  void SetUp() override {
    start(
        "  - type: cti\n    name: cloudpbx\n    domain: acme\n"
        "    tokens: [0123456789abcdef-cti]\n    agents: {\"501\": alice}\n");
  }
  http::testing::reply send_event(const std::string& body,
                                  const std::string& token = "0123456789abcdef-cti",
                                  const std::string& type = "application/x-www-form-urlencoded") {
    http::header_map h;
    if (!token.empty()) h.set("Authorization", "Bearer " + token);
    return post("/hooks/cti/cloudpbx", body, h, type);
  }
};

TEST_F(telephony_cti, call_lifecycle_in_form_and_json) {
  auto r =
      send_event("event=newCall&callId=c-1&from=8+(912)+345-67-89&to=74951234567&direction=in");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(send_event(R"({"event":"answer","callId":"c-1","user":"501"})", "0123456789abcdef-cti",
                       "application/json")
                .status,
            200);
  EXPECT_EQ(send_event("event=hangup&callId=c-1&cause=normal").status, 200);
  EXPECT_EQ(send_event("event=newCall&callId=c-2&from=anonymous&to=74951234567").status, 200);
  EXPECT_EQ(send_event("event=hangup&callId=c-2&cause=cancel").status, 200);
  EXPECT_EQ(send_event("event=newCall&callId=c-3&from=101&to=89001234567&direction=out").status,
            200);
  // A retried event gets the same answer and stores nothing new.
  EXPECT_EQ(send_event("event=newCall&callId=c-1&from=8+(912)+345-67-89&to=74951234567").status,
            200);

  ASSERT_EQ(stored(), 3);  // c-1, c-2 and c-2's abandonment; the outbound call is no contact
  std::map<std::string, core::contact> by_id;
  for (auto& c : contacts()) by_id[c.id] = c;
  const core::contact& c1 = by_id.at(core::contact_id("cti", "cloudpbx:c-1"));
  EXPECT_EQ(c1.customer.identities, (std::vector<core::identity>{{"phone", "+79123456789"}}));
  EXPECT_EQ(c1.chan, core::channel::voice);
  auto events = agent_events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, core::agent_event_type::accept);
  EXPECT_EQ(events[0].agent_id, "alice");
  EXPECT_EQ(events[1].type, core::agent_event_type::complete);
  EXPECT_EQ(events[1].disposition, "normal");
}

TEST_F(telephony_cti, tokens_and_malformed_events) {
  EXPECT_EQ(send_event("event=newCall&callId=x&from=1", "").status, 401);
  EXPECT_EQ(send_event("event=newCall&callId=x&from=1", "wrong-token-wrong-token").status, 403);
  http::testing::client_request q;
  q.method = "POST";
  q.target = "/hooks/cti/cloudpbx?token=0123456789abcdef-cti";
  q.body = "event=newCall&callId=q-1&from=%2B79123456789";
  q.headers.set("Content-Type", "application/x-www-form-urlencoded");
  EXPECT_EQ(http::testing::fetch(port(), q).status, 200);
  auto bad = send_event("event=ring&callId=x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("unknown event 'ring'"), std::string::npos);
  EXPECT_EQ(send_event("{\"event\":", "0123456789abcdef-cti", "application/json").status, 400);
  EXPECT_EQ(stored(), 1);
  EXPECT_GE(
      metric("omniroute_webhook_requests_total{connector=\"cloudpbx\",outcome=\"malformed\"}"), 2);
}

TEST_F(telephony_cti, kafka_down_answers_503_so_the_pbx_retries) {
  take_kafka_down();
  auto r = send_event("event=newCall&callId=k-1&from=%2B79123456789&to=74951234567");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.get("Retry-After").value_or(""), "5");
  EXPECT_GE(
      metric(
          "omniroute_webhook_requests_total{connector=\"cloudpbx\",outcome=\"kafka_unavailable\"}"),
      1);
}

TEST_F(telephony_cti, config_errors_name_the_key) {
  auto loaded = config::load_string(
      "connectors:\n  - type: asterisk\n    name: a\n    host: pbx\n    port: 70000\n"
      "    username: u\n    secret: s\n    default_region: XX\n    auth: sha1\n"
      "    reconect_max: 1s\n  - type: cti\n    name: c\n    tokens: [short]\n",
      "bad.yaml");
  ASSERT_TRUE(loaded.ok());
  config::diagnostics sink;
  auto made = create_all(*loaded.config, sink, context{&ioc_, listener_.get(), publisher_.get()});
  EXPECT_TRUE(made.empty());
  std::string all;
  for (const auto& d : sink.items()) all += config::to_string(d) + "\n";
  EXPECT_NE(all.find("bad.yaml:5:11"), std::string::npos) << all;  // the port's position
  EXPECT_NE(all.find("TCP port"), std::string::npos) << all;
  EXPECT_NE(all.find("default_region"), std::string::npos) << all;
  EXPECT_NE(all.find("auth"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'reconnect_max'"), std::string::npos) << all;
  EXPECT_NE(all.find("at least 16 characters"), std::string::npos) << all;
}

}  // namespace
}  // namespace omni::connectors
