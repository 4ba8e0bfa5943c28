// The desk gateway over real sockets: Beast's WebSocket client against the shared listener on
// port 0, with the embedded Kafka cluster. Every protocol violation must answer with a clear error
// and close code and produce nothing.
#include "routing/desk/gateway.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/bus/bus.h"
#include "core/bus/embedded_cluster.h"
#include "core/events/codec.h"
#include "core/http/testing/client.h"

namespace omni::routing::desk {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using core::http::testing::eventually;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* token_a1 = "token-anna-0123456789";
constexpr const char* token_a2 = "token-boris-0123456789";
constexpr const char* admin = "admin-token-0123456789";
constexpr const char* hs_secret = "hs256-secret-0123456789abcdef0123456789";

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// exp 0: a token without the exp claim.
std::string sign(jwt_alg_t alg, const std::string& key, const std::string& sub, std::int64_t exp) {
  jwt_t* j = nullptr;
  jwt_new(&j);
  jwt_add_grant(j, "sub", sub.c_str());
  jwt_add_grant(j, "domain", "acme");
  if (exp != 0) jwt_add_grant_int(j, "exp", static_cast<long>(exp));
  jwt_set_alg(j, alg, reinterpret_cast<const unsigned char*>(key.data()),
              static_cast<int>(key.size()));
  char* s = jwt_encode_str(j);
  std::string out = s ? s : "";
  free(s);
  jwt_free(j);
  return out;
}

// An RSA key pair as PEM (private, public).
std::pair<std::string, std::string> rsa_pair() {
  EVP_PKEY* k = EVP_RSA_gen(2048);
  auto pem = [&](bool priv) {
    BIO* b = BIO_new(BIO_s_mem());
    if (priv)
      PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(b, k);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  };
  auto out = std::make_pair(pem(true), pem(false));
  EVP_PKEY_free(k);
  return out;
}

// A blocking WebSocket client with read deadlines (SO_RCVTIMEO), one per test thread.
class ws_client {
 public:
  // Returns the HTTP status of a refused handshake (0 when upgraded).
  int connect(std::uint16_t port, const std::string& origin = "", const std::string& bearer = "") {
    asio::ip::tcp::resolver r(ioc_);
    asio::connect(ws_.next_layer(), r.resolve("127.0.0.1", std::to_string(port)));
    timeval tv{5, 0};
    setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.set_option(websocket::stream_base::decorator([=](websocket::request_type& req) {
      if (!origin.empty()) req.set(beast::http::field::origin, origin);
      if (!bearer.empty()) req.set(beast::http::field::authorization, "Bearer " + bearer);
    }));
    beast::error_code ec;
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/agent/v1/ws", ec);
    if (!ec) return 0;
    // Refused: ask again over plain HTTP to see the status the gateway answers with.
    core::http::testing::client_request q;
    q.target = "/agent/v1/ws";
    q.headers.add("Connection", "Upgrade");
    q.headers.add("Upgrade", "websocket");
    q.headers.add("Sec-WebSocket-Version", "13");
    q.headers.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    if (!origin.empty()) q.headers.add("Origin", origin);
    if (!bearer.empty()) q.headers.add("Authorization", "Bearer " + bearer);
    return core::http::testing::fetch(port, q).status;
  }
  void send(const std::string& text) { ws_.write(asio::buffer(text)); }
  void send(const json& j) { send(j.dump()); }
  // The next message, or nullopt when the socket closed / timed out (close code in close_code()).
  std::optional<json> read() {
    beast::flat_buffer b;
    beast::error_code ec;
    ws_.read(b, ec);
    if (ec) {
      closed_ = true;
      return std::nullopt;
    }
    return json::parse(beast::buffers_to_string(b.data()));
  }
  // Skips messages until one of `type` arrives.
  std::optional<json> read_type(const std::string& type) {
    for (int i = 0; i < 50; ++i) {
      auto m = read();
      if (!m) return std::nullopt;
      if ((*m)["type"] == type) return m;
    }
    return std::nullopt;
  }
  std::optional<json> auth(const std::string& token) {
    send(json{{"type", "auth"}, {"v", 1}, {"token", token}});
    return read();
  }
  // Reads until the server closes; the close code it sent.
  int close_code() {
    while (!closed_) read();
    return ws_.reason().code;
  }
  void drop() {
    beast::error_code ec;
    ws_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
  }

 private:
  asio::io_context ioc_;
  websocket::stream<asio::ip::tcp::socket> ws_{ioc_};
  bool closed_ = false;
};

class DeskGateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = core::bus::embedded_cluster::start(1);
    ASSERT_TRUE(c) << c.err().to_string();
    cluster_ = std::move(*c).release();
    ASSERT_TRUE(cluster_->create_topics(core::bus::topic_names::with_prefix("omni.").all(), 1));
    keys_ = rsa_pair();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void start(std::function<void(gateway_config&)> tweak = {}) {
    kafka_.brokers = cluster_->bootstrap();
    // Each test has topics of its own, so counts start at zero.
    topics_ = core::bus::topic_names::with_prefix("t" + std::to_string(++test_no_) + ".");
    ASSERT_TRUE(cluster_->create_topics(topics_.all(), 1));
    auto p = core::bus::producer::create(kafka_, "desk-test");
    ASSERT_TRUE(p) << p.err().to_string();
    producer_ = std::move(*p);

    gateway_config cfg;
    cfg.agents["a1"] = {"a1", token_a1, "Анна", "acme", {{"billing", 5}}, {{"chat", 2}}};
    cfg.agents["a2"] = {"a2", token_a2, "Борис", "acme", {}, {}};
    cfg.admin_token = admin;
    cfg.allowed_origins = {"http://desk.example"};
    cfg.disconnect_grace = 300ms;
    cfg.heartbeat_interval = 10s;  // the blocking test client answers pings only while reading
    cfg.auth_timeout = 2s;
    jwt_settings j;
    j.secret = hs_secret;
    j.leeway = 0s;
    cfg.jwt = j;
    if (tweak) tweak(cfg);

    core::http::settings hs;
    hs.port = 0;
    listener_ = std::make_unique<core::http::listener>(ioc_, hs);
    gateway_options o;
    o.ioc = &ioc_;
    o.listener = listener_.get();
    o.producer = producer_.get();
    o.kafka = kafka_;
    o.topics = topics_;
    o.config = cfg;
    o.node_id = "test";
    auto g = gateway::create(std::move(o));
    ASSERT_TRUE(g) << g.err().to_string();
    gateway_ = std::move(*g);
    ASSERT_FALSE(listener_->start());
    ASSERT_TRUE(gateway_->start());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (gateway_) gateway_->stop();
    if (listener_) {
      listener_->stop();
      listener_->wait_stopped(5s);
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    gateway_.reset();
    listener_.reset();
    if (producer_) producer_->flush(5s);
    producer_.reset();
  }

  std::uint16_t port() const { return listener_->port(); }

  std::int64_t count(const std::string& topic) {
    auto n = core::bus::message_count(kafka_, topic, 5s);
    return n ? *n : -1;
  }

  std::vector<core::agent_event> agent_events() {
    std::vector<core::agent_event> out;
    (void)core::bus::read_partition(
        kafka_, topics_.agent_events, 0, 0,
        [&](const core::bus::message& m) {
          if (auto e = core::decode_agent_event(m.value)) out.push_back(*e);
          return true;
        },
        5s);
    return out;
  }

  std::vector<core::outbound> outbound() {
    std::vector<core::outbound> out;
    (void)core::bus::read_partition(
        kafka_, topics_.outbound, 0, 0,
        [&](const core::bus::message& m) {
          if (auto o = core::decode_outbound(m.value)) out.push_back(*o);
          return true;
        },
        5s);
    return out;
  }

  bool has_event(core::agent_event_type t, const std::string& agent) {
    for (const auto& e : agent_events())
      if (e.type == t && e.agent_id == agent) return true;
    return false;
  }

  void produce_assignment(const core::assignment& a) {
    auto d = producer_->produce_and_wait(topics_.assignments, a.domain, core::encode(a), 5s);
    ASSERT_TRUE(d.ok) << d.error;
  }

  void offer(const std::string& id, const std::string& contact, const std::string& agent) {
    core::assignment a;
    a.id = id;
    a.type = "offer";
    a.domain = "acme";
    a.seq = 1;
    a.at = now_s() * 1000;
    a.contact_id = contact;
    a.agent_id = agent;
    a.queue = "support";
    a.deadline = a.at + 30'000;
    a.reason.strategy = "longest_idle";
    a.reason.candidates = 2;
    a.reason.text = "longest idle of 2";
    a.contact = core::offer_details{
        .customer_id = "cust-7",
        .display_name = "Иван Петров",
        .channel = "chat",
        .provider = "webchat",
        .conversation = "conv-" + contact,
        .subject = "Заказ не пришёл",
        .snippet = "Здравствуйте! Где мой заказ?",
        .recipient = {"visitor", "vis-42"},
        .history = R"([{"id":"h1","channel":"email","subject":"Возврат денег"}])"};
    produce_assignment(a);
  }

  // Connects and authenticates with a static token; the welcome message.
  std::unique_ptr<ws_client> signed_in(const std::string& token, const std::string& agent) {
    auto c = std::make_unique<ws_client>();
    EXPECT_EQ(c->connect(port(), "http://desk.example"), 0);
    auto w = c->auth(token);
    EXPECT_TRUE(w && (*w)["type"] == "welcome") << (w ? w->dump() : "closed");
    EXPECT_TRUE(eventually([&] { return has_event(core::agent_event_type::login, agent); }, 10s));
    return c;
  }

  // After a protocol violation: the error, its close code, and nothing produced.
  void expect_refused(ws_client& c, const std::string& code, int close) {
    auto before_events = count(topics_.agent_events), before_out = count(topics_.outbound);
    auto e = c.read_type("error");
    ASSERT_TRUE(e) << "no error message";
    EXPECT_EQ((*e)["code"], code) << e->dump();
    EXPECT_FALSE((*e)["message"].get<std::string>().empty());
    EXPECT_EQ(c.close_code(), close);
    std::this_thread::sleep_for(200ms);  // a wrongly produced event would be stored by now
    EXPECT_EQ(count(topics_.agent_events), before_events);
    EXPECT_EQ(count(topics_.outbound), before_out);
  }

  static inline core::bus::embedded_cluster* cluster_ = nullptr;
  static inline std::pair<std::string, std::string> keys_;
  static inline int test_no_ = 0;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::vector<std::thread> threads_;
  core::bus::settings kafka_;
  core::bus::topic_names topics_;
  std::unique_ptr<core::bus::producer> producer_;
  std::unique_ptr<core::http::listener> listener_;
  std::unique_ptr<gateway> gateway_;
};

TEST_F(DeskGateway, StaticTokenLogsInWithSkillsFromConfig) {
  start();
  auto c = signed_in(token_a1, "a1");
  auto events = agent_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, core::agent_event_type::login);
  EXPECT_EQ(events[0].domain, "acme");
  EXPECT_EQ(events[0].skills.at("billing"), 5);
  EXPECT_EQ(events[0].capacity.at("chat"), 2);
  c->send(json{{"type", "ping"}, {"ref", "p1"}});
  auto pong = c->read_type("pong");
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["ref"], "p1");
}

TEST_F(DeskGateway, BadJsonClosesWith4400AndProducesNothing) {
  start();
  auto c = signed_in(token_a1, "a1");
  c->send(std::string("{\"type\": \"accept\", "));
  expect_refused(*c, "bad_json", 4400);
}

TEST_F(DeskGateway, UnknownTypeClosesWith4400) {
  start();
  auto c = signed_in(token_a1, "a1");
  c->send(json{{"type", "steal_contact"}, {"contact_id", "c1"}});
  expect_refused(*c, "unknown_type", 4400);
}

TEST_F(DeskGateway, ActingOnSomeoneElsesOfferClosesWith4403) {
  start();
  auto b = signed_in(token_a2, "a2");
  auto a = signed_in(token_a1, "a1");
  offer("acme-1", "c-boris", "a2");
  ASSERT_TRUE(b->read_type("offer"));
  a->send(json{{"type", "accept"}, {"contact_id", "c-boris"}, {"ref", "x"}});
  expect_refused(*a, "forbidden", 4403);
  // Replying into Boris's conversation is refused the same way.
  auto a2 = signed_in(token_a1, "a1");
  a2->send(json{{"type", "reply"}, {"contact_id", "c-boris"}, {"text", "hi"}});
  expect_refused(*a2, "forbidden", 4403);
}

TEST_F(DeskGateway, ExpiredJwtClosesWith4401AndLogsNobodyIn) {
  start();
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  c.send(
      json{{"type", "auth"}, {"token", sign(JWT_ALG_HS256, hs_secret, "jwt-agent", now_s() - 60)}});
  expect_refused(c, "token_expired", 4401);
  EXPECT_TRUE(agent_events().empty());
}

TEST_F(DeskGateway, JwtWithoutExpiryIsRefused) {
  start();
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  c.send(json{{"type", "auth"}, {"token", sign(JWT_ALG_HS256, hs_secret, "jwt-agent", 0)}});
  expect_refused(c, "unauthorized", 4401);
  EXPECT_TRUE(agent_events().empty());
}

TEST_F(DeskGateway, DeeplyNestedMessageIsRefusedAsBadJson) {
  start();
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  // 30,000 levels (under the 64 KiB frame cap): refused by the depth check before any recursive
  // walk of a tree.
  c.send(std::string(30'000, '[') + std::string(30'000, ']'));
  expect_refused(c, "bad_json", 4400);
}

TEST_F(DeskGateway, UnknownTokenAndMissingAuthAreRefused) {
  start();
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  c.send(json{{"type", "auth"}, {"token", "not-a-token-at-all"}});
  expect_refused(c, "unauthorized", 4401);
  ws_client d;
  ASSERT_EQ(d.connect(port(), "http://desk.example"), 0);
  d.send(json{{"type", "presence"}, {"presence", "available"}});
  expect_refused(d, "unauthorized", 4401);
  // A bad bearer token at the upgrade is an HTTP 401.
  ws_client e;
  EXPECT_EQ(e.connect(port(), "http://desk.example", "wrong-token-0000000"), 401);
}

TEST_F(DeskGateway, JwtHs256IsAccepted) {
  start();
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  auto w = c.auth(sign(JWT_ALG_HS256, hs_secret, "jwt-agent", now_s() + 600));
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)["type"], "welcome") << w->dump();
  EXPECT_EQ((*w)["agent"]["id"], "jwt-agent");
  EXPECT_EQ((*w)["agent"]["domain"], "acme");
  EXPECT_TRUE(
      eventually([&] { return has_event(core::agent_event_type::login, "jwt-agent"); }, 10s));
  // Signed with another secret: refused.
  ws_client d;
  ASSERT_EQ(d.connect(port(), "http://desk.example"), 0);
  d.send(json{{"type", "auth"},
              {"token", sign(JWT_ALG_HS256, std::string(40, 'x'), "jwt-agent", now_s() + 600)}});
  expect_refused(d, "unauthorized", 4401);
}

TEST_F(DeskGateway, JwtRs256IsAcceptedAndHs256WithThePublicKeyIsNot) {
  auto dir = std::filesystem::temp_directory_path() / ("desk-rs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pub.pem") << keys_.second;
  start([&](gateway_config& cfg) {
    jwt_settings j;
    j.algorithm = jwt_algorithm::rs256;
    j.public_key = keys_.second;
    j.public_key_file = (dir / "pub.pem").string();
    j.leeway = 0s;
    cfg.jwt = j;
  });
  ws_client c;
  ASSERT_EQ(c.connect(port(), "http://desk.example"), 0);
  auto w = c.auth(sign(JWT_ALG_RS256, keys_.first, "rs-agent", now_s() + 600));
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)["type"], "welcome") << w->dump();
  // The classic algorithm confusion: HS256 "signed" with the public key as the secret.
  ws_client d;
  ASSERT_EQ(d.connect(port(), "http://desk.example"), 0);
  d.send(json{{"type", "auth"},
              {"token", sign(JWT_ALG_HS256, keys_.second, "rs-agent", now_s() + 600)}});
  expect_refused(d, "unauthorized", 4401);
  std::filesystem::remove_all(dir);
}

TEST_F(DeskGateway, OriginAllowList) {
  start();
  ws_client evil;
  EXPECT_EQ(evil.connect(port(), "http://evil.example"), 403);
  ws_client good;
  EXPECT_EQ(good.connect(port(), "http://desk.example"), 0);
  ws_client tool;  // no Origin: not a browser
  EXPECT_EQ(tool.connect(port()), 0);
  EXPECT_TRUE(agent_events().empty());
}

TEST_F(DeskGateway, OfferAcceptReplyCompleteEndToEnd) {
  start();
  auto c = signed_in(token_a1, "a1");
  offer("acme-10", "c1", "a1");
  auto o = c->read_type("offer");
  ASSERT_TRUE(o);
  EXPECT_EQ((*o)["contact_id"], "c1");
  EXPECT_EQ((*o)["contact"]["display_name"], "Иван Петров");
  EXPECT_EQ((*o)["conversation"][0]["text"], "Здравствуйте! Где мой заказ?");
  EXPECT_EQ((*o)["history"][0]["subject"], "Возврат денег");
  EXPECT_EQ((*o)["reason"]["text"], "longest idle of 2");
  // A replayed decision (router restart) is not shown twice.
  offer("acme-10", "c1", "a1");

  c->send(json{{"type", "accept"}, {"contact_id", "c1"}, {"ref", "1"}});
  auto ack = c->read_type("ack");
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["of"], "accept");
  EXPECT_EQ((*ack)["ref"], "1");

  c->send(json{{"type", "reply"},
               {"contact_id", "c1"},
               {"text", "Добрый день! Уже проверяю."},
               {"ref", "2"}});
  ack = c->read_type("ack");
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["of"], "reply");
  auto out = outbound();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, core::outbound_kind::reply);
  EXPECT_EQ(out[0].conversation, "conv-c1");
  EXPECT_EQ(out[0].contact_id, "c1");
  EXPECT_EQ(out[0].provider, "webchat");
  EXPECT_EQ(out[0].recipient.value, "vis-42");
  EXPECT_EQ(out[0].text, "Добрый день! Уже проверяю.");
  EXPECT_EQ(out[0].agent_id, "a1");

  // A follow-up customer message in the conversation reaches the agent.
  core::assignment m;
  m.id = "acme-11";
  m.type = "message";
  m.domain = "acme";
  m.seq = 11;
  m.at = now_s() * 1000;
  m.contact_id = "c1";
  m.agent_id = "a1";
  m.attributes = {{"text", "Спасибо!"}, {"message_id", "m2"}};
  produce_assignment(m);
  auto msg = c->read_type("message");
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["message"]["text"], "Спасибо!");

  c->send(json{{"type", "complete"},
               {"contact_id", "c1"},
               {"disposition", "solved"},
               {"survey", true},
               {"ref", "3"}});
  ack = c->read_type("ack");
  ASSERT_TRUE(ack);
  EXPECT_EQ((*ack)["of"], "complete");
  bool completed = false;
  for (const auto& e : agent_events())
    if (e.type == core::agent_event_type::complete) {
      completed = true;
      EXPECT_EQ(e.contact_id, "c1");
      EXPECT_EQ(e.disposition, "solved");
      EXPECT_EQ(e.attributes.at("survey"), "requested");
    }
  EXPECT_TRUE(completed);
  // Completed: a second reply is refused but does not close the socket.
  c->send(json{{"type", "reply"}, {"contact_id", "c1"}, {"text", "ещё"}, {"ref", "4"}});
  auto err = c->read_type("error");
  ASSERT_TRUE(err);
  EXPECT_EQ((*err)["code"], "conflict");
  c->send(json{{"type", "ping"}});
  EXPECT_TRUE(c->read_type("pong"));
}

TEST_F(DeskGateway, RevocationsStatisticsAndRest) {
  start();
  auto c = signed_in(token_a1, "a1");
  offer("acme-20", "c2", "a1");
  ASSERT_TRUE(c->read_type("offer"));
  core::assignment r;
  r.id = "acme-21";
  r.type = "revoke";
  r.domain = "acme";
  r.seq = 21;
  r.contact_id = "c2";
  r.agent_id = "a1";
  r.reason.text = "offer timed out";
  produce_assignment(r);
  auto rv = c->read_type("revoke");
  ASSERT_TRUE(rv);
  EXPECT_EQ((*rv)["contact_id"], "c2");

  core::assignment s;
  s.id = "acme-stats-1";
  s.type = "stats";
  s.domain = "acme";
  s.seq = 22;
  s.attributes = {{"queues", R"([{"name":"support","waiting":3,"service_level":0.8}])"},
                  {"agents", R"([{"id":"a1","presence":"available","load":1}])"}};
  produce_assignment(s);
  auto st = c->read_type("stats");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["queues"][0]["waiting"], 3);

  using core::http::testing::client_request;
  using core::http::testing::fetch;
  auto get = [&](const std::string& target, const std::string& token) {
    client_request q;
    q.target = target;
    if (!token.empty()) q.headers.add("Authorization", "Bearer " + token);
    return fetch(port(), q);
  };
  EXPECT_EQ(get("/api/v1/queues", "").status, 401);
  auto q = get("/api/v1/queues/support?domain=acme", token_a1);
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(json::parse(q.body)["waiting"], 3);
  EXPECT_EQ(get("/api/v1/agents", token_a1).status, 403);
  auto agents = get("/api/v1/agents", admin);
  ASSERT_EQ(agents.status, 200);
  auto aj = json::parse(agents.body)["agents"];
  ASSERT_FALSE(aj.empty());
  EXPECT_EQ(aj[0]["id"], "a1");
  EXPECT_EQ(aj[0]["connections"], 1);
  EXPECT_EQ(aj[0]["router"]["load"], 1);
  auto contact = get("/api/v1/contacts/c2", admin);
  ASSERT_EQ(contact.status, 200);
  auto cj = json::parse(contact.body);
  EXPECT_EQ(cj["why"]["agent_id"], "a1");
  EXPECT_EQ(cj["why"]["reason"]["text"], "longest idle of 2");
  EXPECT_EQ(cj["decisions"].size(), 2u);
  EXPECT_EQ(get("/api/v1/contacts/c2", token_a2).status, 403);
  EXPECT_EQ(get("/api/v1/contacts/c2", token_a1).status, 200);
  auto cust = get("/api/v1/customers/cust-7", admin);
  ASSERT_EQ(cust.status, 200);
  EXPECT_EQ(json::parse(cust.body)["history"][0]["subject"], "Возврат денег");
  EXPECT_EQ(get("/api/v1/contacts/nope", admin).status, 404);
  auto page = get("/desk/", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<script src=\"desk.js\">"), std::string::npos);
  EXPECT_EQ(page.header("Content-Type").value_or(""), "text/html; charset=utf-8");
  EXPECT_EQ(get("/desk/desk.js", "").status, 200);
}

TEST_F(DeskGateway, DroppedSocketIsALogoutAfterTheGracePeriod) {
  start();
  {
    auto c = signed_in(token_a1, "a1");
    c->drop();
  }
  EXPECT_FALSE(has_event(core::agent_event_type::logout, "a1"));
  ASSERT_TRUE(eventually([&] { return has_event(core::agent_event_type::logout, "a1"); }, 10s));
  for (const auto& e : agent_events())
    if (e.type == core::agent_event_type::logout) {
      EXPECT_EQ(e.reason, "disconnected");
    }
}

TEST_F(DeskGateway, ReconnectWithinTheGracePeriodKeepsTheSession) {
  start([](gateway_config& cfg) { cfg.disconnect_grace = 2s; });
  auto c = signed_in(token_a1, "a1");
  offer("acme-30", "c3", "a1");
  ASSERT_TRUE(c->read_type("offer"));
  c->drop();
  ws_client again;
  ASSERT_EQ(again.connect(port(), "http://desk.example"), 0);
  auto w = again.auth(token_a1);
  ASSERT_TRUE(w);
  auto o = again.read_type("offer");  // resync: the open offer is shown again
  ASSERT_TRUE(o);
  EXPECT_EQ((*o)["contact_id"], "c3");
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(has_event(core::agent_event_type::logout, "a1"));
  int logins = 0;
  for (const auto& e : agent_events()) logins += e.type == core::agent_event_type::login;
  EXPECT_EQ(logins, 1);
}

}  // namespace
}  // namespace omni::routing::desk
