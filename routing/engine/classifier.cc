#include "routing/engine/classifier.h"

#include <algorithm>

namespace omni::routing::engine {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& ch : r) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return r;
}

namespace {

void lower_all(std::vector<std::string>& v) {
  for (auto& s : v) s = lower(s);
}

bool in_list(const std::vector<std::string>& lowered_list, std::string_view value) {
  if (lowered_list.empty()) return true;
  const std::string v = lower(value);
  return std::find(lowered_list.begin(), lowered_list.end(), v) != lowered_list.end();
}

}  // namespace

void classifier::configure(const std::vector<classification_rule>& rules,
                           std::vector<std::array<bool, channel_count>> serves) {
  rules_.clear();
  needs_text_ = false;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    compiled c;
    c.match = rules[i].match;
    lower_all(c.match.providers);
    lower_all(c.match.to);
    lower_all(c.match.keywords);
    lower_all(c.match.languages);
    lower_all(c.match.customer_tiers);
    if (!c.match.regex.empty()) {
      c.has_regex = true;
      c.regex = std::regex(c.match.regex, std::regex::ECMAScript | std::regex::icase);
    }
    c.serves = i < serves.size() ? serves[i] : std::array<bool, channel_count>{};
    if (!c.match.keywords.empty()) needs_text_ = true;
    rules_.push_back(std::move(c));
  }
}

bool classifier::matches(const compiled& r, const contact& c, const std::string& subject,
                         const std::string& text) const {
  const rule_match& m = r.match;
  if (!r.serves[index_of(c.chan)]) return false;
  if (!m.channels.empty() &&
      std::find(m.channels.begin(), m.channels.end(), c.chan) == m.channels.end()) {
    return false;
  }
  if (!in_list(m.providers, c.provider) || !in_list(m.to, c.to) ||
      !in_list(m.languages, c.language) || !in_list(m.customer_tiers, c.customer_tier)) {
    return false;
  }
  for (const auto& [key, value] : m.attributes) {
    auto it = c.attributes.find(key);
    if (it == c.attributes.end() || it->second != value) return false;
  }
  if (!m.keywords.empty()) {
    bool any = false;
    for (const auto& k : m.keywords) {
      if (subject.find(k) != std::string::npos || text.find(k) != std::string::npos) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (r.has_regex) {
    const std::string both = c.subject + "\n" + c.text;
    if (!std::regex_search(both, r.regex)) return false;
  }
  return true;
}

int classifier::classify(const contact& c) const {
  std::string subject, text;
  if (needs_text_) {
    subject = lower(c.subject);
    text = lower(c.text);
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (matches(rules_[i], c, subject, text)) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace omni::routing::engine
