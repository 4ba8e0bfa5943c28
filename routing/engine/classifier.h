#pragma once

// Classification rules compiled for matching: lower-cased lists, compiled regexes. Owned by
// the engine and rebuilt on reconfigure; same thread as the engine.

#include <array>
#include <regex>
#include <string>
#include <vector>

#include "routing/engine/config.h"
#include "routing/engine/types.h"

namespace omni::routing::engine {

class classifier {
 public:
  // `serves[i][c]`: the queue of rule i serves channel c (a rule whose queue does not serve
  // the contact's channel is skipped). Regexes must be valid (see validate()).
  void configure(const std::vector<classification_rule>& rules,
                 std::vector<std::array<bool, channel_count>> serves);

  // Index of the first matching rule, or -1 (the default queue).
  int classify(const contact& c) const;

 private:
  struct compiled {
    rule_match match;  // lists lower-cased
    bool has_regex = false;
    std::regex regex;
    std::array<bool, channel_count> serves{};
  };
  bool matches(const compiled& r, const contact& c, const std::string& lowered_subject,
               const std::string& lowered_text) const;

  std::vector<compiled> rules_;
  bool needs_text_ = false;
};

std::string lower(std::string_view s);

}  // namespace omni::routing::engine
