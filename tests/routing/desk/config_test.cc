#include "routing/desk/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace omni::routing::desk {
namespace {

struct parsed {
  gateway_config cfg;
  std::vector<std::string> errors;
};

parsed parse(const std::string& yaml) {
  config::diagnostics sink;
  auto tree = config::parse_yaml(yaml, "omniroute.yaml", sink);
  parsed out;
  if (tree) {
    config::reader root(*tree, sink);
    out.cfg = parse_gateway_config(root.raw("gateway"), sink);
  }
  for (const auto& d : sink.take_sorted()) out.errors.push_back(config::to_string(d));
  return out;
}

TEST(DeskConfig, EmptySectionGivesDefaults) {
  auto p = parse("other: 1\n");
  EXPECT_TRUE(p.errors.empty());
  EXPECT_EQ(p.cfg.disconnect_grace, std::chrono::seconds(30));
  EXPECT_EQ(p.cfg.heartbeat_interval, std::chrono::seconds(15));
  EXPECT_FALSE(p.cfg.jwt);
  EXPECT_TRUE(p.cfg.agents.empty());
}

TEST(DeskConfig, ReadsAgentsJwtAndLimits) {
  auto p = parse(R"(gateway:
  agents:
    anna:
      token: 0123456789abcdef0123
      name: Анна Смирнова
      domain: acme
      skills: {billing: 7}
      capacity: {chat: 2}
  jwt:
    algorithm: HS256
    secret: 0123456789abcdef0123456789abcdef
    issuer: sso.example
    agent_claim: agent
  admin_token: fedcba9876543210fedc
  allowed_origins: [https://desk.example]
  disconnect_grace: 5s
  heartbeat_interval: 2s
  max_connections: 500
  contacts_kept: 2000
  dedupe_window: 5000
)");
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  ASSERT_EQ(p.cfg.agents.count("anna"), 1u);
  const auto& a = p.cfg.agents.at("anna");
  EXPECT_EQ(a.display_name, "Анна Смирнова");
  EXPECT_EQ(a.domain, "acme");
  EXPECT_EQ(a.skills.at("billing"), 7);
  EXPECT_EQ(a.capacity.at("chat"), 2);
  ASSERT_TRUE(p.cfg.jwt);
  EXPECT_EQ(p.cfg.jwt->issuer, "sso.example");
  EXPECT_EQ(p.cfg.jwt->agent_claim, "agent");
  EXPECT_EQ(p.cfg.disconnect_grace, std::chrono::seconds(5));
  EXPECT_EQ(p.cfg.max_connections, 500u);
  EXPECT_EQ(p.cfg.contacts_kept, 2000u);
  EXPECT_EQ(p.cfg.dedupe_window, 5000u);
  EXPECT_EQ(p.cfg.allowed_origins, std::vector<std::string>{"https://desk.example"});
}

TEST(DeskConfig, ErrorsHavePositionsAndSuggestions) {
  auto p = parse(R"(gateway:
  agents:
    bob:
      token: short
  disconect_grace: 5s
  allowed_origins: [desk.example]
  jwt:
    algorithm: RS256
    public_key_file: /nonexistent/key.pem
)");
  std::string all;
  for (const auto& e : p.errors) all += e + "\n";
  EXPECT_NE(all.find("omniroute.yaml:4:"), std::string::npos) << all;
  EXPECT_NE(all.find("too short"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'disconnect_grace'"), std::string::npos) << all;
  EXPECT_NE(all.find("is not an origin"), std::string::npos) << all;
  EXPECT_NE(all.find("cannot read '/nonexistent/key.pem'"), std::string::npos) << all;
}

TEST(DeskConfig, UnknownAlgorithmAndMissingLoginAreErrors) {
  auto p = parse("gateway:\n  jwt:\n    algorithm: none\n    secret: x\n");
  ASSERT_FALSE(p.errors.empty());
  EXPECT_NE(p.errors.front().find("algorithm"), std::string::npos) << p.errors.front();
  auto w = parse("gateway:\n  admin_token: 0123456789abcdef0123\n  dedupe_window: 10\n");
  ASSERT_EQ(w.errors.size(), 2u);
  EXPECT_NE(w.errors.back().find("dedupe_window: must be within 1000..10000000"), std::string::npos)
      << w.errors.back();
  auto q = parse("gateway:\n  admin_token: 0123456789abcdef0123\n");
  ASSERT_EQ(q.errors.size(), 1u);
  EXPECT_NE(q.errors.front().find("no way to log in"), std::string::npos);
}

}  // namespace
}  // namespace omni::routing::desk
