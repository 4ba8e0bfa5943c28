#include "routing/service/retention.h"

#include <algorithm>

namespace omni::routing::service {
namespace {

std::string setting(const std::map<std::string, std::string>& c, const std::string& key) {
  auto it = c.find(key);
  return it == c.end() ? std::string() : it->second;
}

std::int64_t number(const std::string& v) {
  try {
    return v.empty() ? -1 : std::stoll(v);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::vector<std::string> retention_problems(
    const core::bus::topic_names& topics,
    const std::map<std::string, std::map<std::string, std::string>>& configs,
    const router_config& config) {
  std::vector<std::string> out;
  const bool snapshots = config.snapshot_every_steps > 0 || config.snapshot_every > 0;
  if (auto it = configs.find(topics.assignments); it != configs.end()) {
    const std::string policy = setting(it->second, "cleanup.policy");
    const std::int64_t retention = number(setting(it->second, "retention.ms"));
    if (policy.find("compact") != std::string::npos)
      out.push_back(topics.assignments + " has cleanup.policy=" + policy +
                    ": the router's changelog is a log, and compaction deletes steps recovery "
                    "replays; use cleanup.policy=delete");
    if (!snapshots && retention >= 0)
      out.push_back(topics.assignments + " has retention.ms=" + std::to_string(retention) +
                    " while routing.snapshot is off: recovery replays the whole changelog, so it "
                    "must keep everything (retention.ms=-1) or snapshots must be on");
    // The newest snapshot is at most `every` old while the router runs; a day of margin covers an
    // outage (no snapshots are written while no router runs).
    const std::int64_t needed =
        std::max<std::int64_t>(86'400'000, 10 * std::max<std::int64_t>(config.snapshot_every, 0));
    if (snapshots && retention >= 0 && retention < needed)
      out.push_back(topics.assignments + " has retention.ms=" + std::to_string(retention) +
                    ": shorter than " + std::to_string(needed / 3'600'000) +
                    " h, recovery may find the changelog after the newest snapshot deleted");
  }
  if (auto it = configs.find(topics.snapshots); it != configs.end()) {
    const std::string policy = setting(it->second, "cleanup.policy");
    if (policy.find("compact") == std::string::npos || policy.find("delete") != std::string::npos)
      out.push_back(topics.snapshots + " has cleanup.policy=" + policy +
                    ": it must be compact alone, or the newest snapshot can be deleted");
  }
  return out;
}

}  // namespace omni::routing::service
