#include "routing/sim/replay.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "core/events/codec.h"

namespace omni::routing::sim {

recording load_recording(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the replay file");
  recording rec;
  std::unordered_map<std::string, core::timestamp_ms> accepted;
  std::string line;
  std::size_t number = 0;
  bool any = false;
  core::timestamp_ms first = 0;
  auto seen = [&](core::timestamp_ms t) {
    if (!any || t < first) first = t;
    if (!any || t > rec.last) rec.last = t;
    any = true;
  };
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const bool is_contact = line.find(std::string(core::contact_schema)) != std::string::npos;
    const bool is_agent = line.find(std::string(core::agent_event_schema)) != std::string::npos;
    if (is_contact && !is_agent) {
      auto c = core::decode_contact(line);
      if (!c) fail(c.err().to_string());
      seen(c->received_at);
      rec.contacts.push_back(std::move(*c));
    } else if (is_agent) {
      auto e = core::decode_agent_event(line);
      if (!e) fail(e.err().to_string());
      seen(e->at);
      using T = core::agent_event_type;
      switch (e->type) {
        case T::accept:
          accepted[e->contact_id] = e->at;
          break;
        case T::complete:
          if (auto a = accepted.find(e->contact_id); a != accepted.end())
            rec.handle_times[e->contact_id] = std::max<engine::duration>(0, e->at - a->second);
          break;
        case T::login:
        case T::logout:
        case T::presence:
        case T::skills:
          rec.agents.push_back(std::move(*e));
          break;
        default:
          break;
      }
    } else {
      fail("not an omni.contact.v1 or omni.agent_event.v1 event (no such `schema`)");
    }
  }
  if (!any) throw std::runtime_error(file.string() + ": no events to replay");
  constexpr core::timestamp_ms day = 86'400'000;
  rec.origin = (first >= 0 ? first / day : (first - day + 1) / day) * day;
  std::stable_sort(rec.contacts.begin(), rec.contacts.end(),
                   [](const auto& a, const auto& b) { return a.received_at < b.received_at; });
  std::stable_sort(rec.agents.begin(), rec.agents.end(),
                   [](const auto& a, const auto& b) { return a.at < b.at; });
  return rec;
}

}  // namespace omni::routing::sim
