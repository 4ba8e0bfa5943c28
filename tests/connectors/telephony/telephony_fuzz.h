#pragma once
// Shared by the AMI and ESL fuzz targets: a protocol fed the input in pieces whose size the first
// byte picks, and the checks every output must pass (contacts and agent events survive the wire
// codec after clamping).
#include <cstdlib>
#include <string_view>

#include "connectors/telephony/pbx_client.h"
#include "core/events/codec.h"

namespace omni::connectors::telephony::fuzz {

inline call_settings settings(const char* provider) {
  call_settings cs;
  cs.provider = provider;
  cs.connector = "fuzz";
  cs.domain = "fuzz";
  cs.agents = {{"101", "alice"}, {"1001", "bob"}};
  cs.max_calls = 64;
  return cs;
}

inline void run(pbx_protocol& p, std::string_view in) {
  call_output out;
  const std::size_t piece = in.empty() ? 1 : static_cast<unsigned char>(in[0]) % 64 + 1;
  for (std::size_t i = 0; i < in.size(); i += piece)
    if (!p.feed(in.substr(i, piece), static_cast<core::timestamp_ms>(i), out).fatal.empty()) break;
  p.tick(1 << 30, out);
  for (auto c : out.contacts) {
    core::clamp_to_limits(c);
    if (!core::decode_contact(core::encode(c))) std::abort();
  }
  for (const auto& e : out.agent_events)
    if (!core::decode_agent_event(core::encode(e))) std::abort();
}

}  // namespace omni::connectors::telephony::fuzz
