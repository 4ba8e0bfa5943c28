#include "config/values.h"

#include <gtest/gtest.h>

namespace omni::config {
namespace {

using namespace std::chrono_literals;

TEST(parse_duration, reads_units_and_compounds) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("72h"), 72h);
  EXPECT_EQ(parse_duration("2d"), 48h);
  EXPECT_EQ(parse_duration("1h30m"), 90min);
  EXPECT_EQ(parse_duration("1m0s500ms"), 60500ms);
  EXPECT_EQ(parse_duration("0"), 0ms);
}

TEST(parse_duration, rejects_bad_text) {
  EXPECT_EQ(parse_duration(""), std::nullopt);
  EXPECT_EQ(parse_duration("30"), std::nullopt);  // a bare number is ambiguous
  EXPECT_EQ(parse_duration("s"), std::nullopt);
  EXPECT_EQ(parse_duration("5 s"), std::nullopt);
  EXPECT_EQ(parse_duration("1.5s"), std::nullopt);
  EXPECT_EQ(parse_duration("-1s"), std::nullopt);
  EXPECT_EQ(parse_duration("10sec"), std::nullopt);
  EXPECT_EQ(parse_duration("10us"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999s"), std::nullopt);
  EXPECT_EQ(parse_duration("9999999999999999d"), std::nullopt);  // overflows int64 ms
}

TEST(format_duration, round_trips) {
  EXPECT_EQ(format_duration(0ms), "0");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(72h), "3d");
  EXPECT_EQ(parse_duration(format_duration(3723004ms)), 3723004ms);
}

TEST(parse_byte_size, reads_units) {
  EXPECT_EQ(parse_byte_size("1000"), byte_size{1000});
  EXPECT_EQ(parse_byte_size("0"), byte_size{0});
  EXPECT_EQ(parse_byte_size("12B"), byte_size{12});
  EXPECT_EQ(parse_byte_size("64KiB"), byte_size{64 * 1024});
  EXPECT_EQ(parse_byte_size("1MiB"), byte_size{1024 * 1024});
  EXPECT_EQ(parse_byte_size("2GiB"), byte_size{2ULL << 30});
  EXPECT_EQ(parse_byte_size("1TiB"), byte_size{1ULL << 40});
  EXPECT_EQ(parse_byte_size("10kB"), byte_size{10'000});
  EXPECT_EQ(parse_byte_size("10KB"), byte_size{10'000});
  EXPECT_EQ(parse_byte_size("3MB"), byte_size{3'000'000});
  EXPECT_EQ(parse_byte_size("1GB"), byte_size{1'000'000'000});
  EXPECT_EQ(parse_byte_size("64 KiB"), byte_size{64 * 1024});
}

TEST(parse_byte_size, rejects_bad_text) {
  EXPECT_EQ(parse_byte_size(""), std::nullopt);
  EXPECT_EQ(parse_byte_size("KiB"), std::nullopt);
  EXPECT_EQ(parse_byte_size("64kib"), std::nullopt);
  EXPECT_EQ(parse_byte_size("64K"), std::nullopt);
  EXPECT_EQ(parse_byte_size("1.5MiB"), std::nullopt);
  EXPECT_EQ(parse_byte_size("-1"), std::nullopt);
  EXPECT_EQ(parse_byte_size("64  KiB"), std::nullopt);
  EXPECT_EQ(parse_byte_size("99999999TiB"), std::nullopt);  // overflows 64 bits
}

TEST(parse_address, reads_host_and_port) {
  EXPECT_EQ(parse_address("127.0.0.1:9464"), (address{"127.0.0.1", 9464}));
  EXPECT_EQ(parse_address("kafka-1.example.net:9092"), (address{"kafka-1.example.net", 9092}));
  EXPECT_EQ(parse_address("[::1]:8080"), (address{"::1", 8080}));
  EXPECT_EQ(parse_address("localhost:0"), (address{"localhost", 0}));
  EXPECT_EQ(parse_address("h:65535"), (address{"h", 65535}));
}

TEST(parse_address, rejects_bad_text) {
  EXPECT_EQ(parse_address("localhost"), std::nullopt);
  EXPECT_EQ(parse_address(":8080"), std::nullopt);
  EXPECT_EQ(parse_address("host:"), std::nullopt);
  EXPECT_EQ(parse_address("host:65536"), std::nullopt);
  EXPECT_EQ(parse_address("host:http"), std::nullopt);
  EXPECT_EQ(parse_address("::1:8080"), std::nullopt);  // IPv6 needs brackets
  EXPECT_EQ(parse_address("[::1]8080"), std::nullopt);
  EXPECT_EQ(parse_address("my host:80"), std::nullopt);
}

TEST(address, prints_brackets_for_ipv6) {
  EXPECT_EQ((address{"::1", 80}.to_string()), "[::1]:80");
  EXPECT_EQ((address{"10.0.0.1", 9092}.to_string()), "10.0.0.1:9092");
}

TEST(is_loopback, only_hosts_this_machine_alone_reaches) {
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.1.2.3"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("localhost"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("::"));
  EXPECT_FALSE(is_loopback("10.0.0.1"));
  EXPECT_FALSE(is_loopback("imap.example.com"));
}

TEST(closest_match, suggests_typos_only) {
  const std::vector<std::string> keys{"node", "logging", "kafka", "admin", "http", "connectors"};
  EXPECT_EQ(edit_distance("kafak", "kafka"), 1u);  // a transposition is one edit
  EXPECT_EQ(closest_match("kafak", keys), "kafka");
  EXPECT_EQ(closest_match("Kafka", keys), "kafka");
  EXPECT_EQ(closest_match("conectors", keys), "connectors");
  EXPECT_EQ(closest_match("loging", keys), "logging");
  EXPECT_EQ(closest_match("htp", keys), "http");
  EXPECT_EQ(closest_match("routing", keys), std::nullopt);
  EXPECT_EQ(closest_match("xyz", keys), std::nullopt);
}

}  // namespace
}  // namespace omni::config
