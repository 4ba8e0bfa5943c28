#include "core/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace omni::core::metrics {

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::string render_labels(const labels& l) {
  if (l.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

registry::family& registry::family_of(const std::string& name, const std::string& help, kind k) {
  auto [it, inserted] = families_.try_emplace(name, family{k, help, {}});
  if (!inserted && it->second.k != k)
    throw std::logic_error("metric " + name + " registered twice with different types");
  return it->second;
}

counter& registry::counter_of(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lock(mutex_);
  family& f = family_of(name, help, kind::counter);
  auto [it, inserted] = f.index.try_emplace(render_labels(l), counters_.size());
  if (inserted) counters_.emplace_back();
  return counters_[it->second];
}

gauge& registry::gauge_of(const std::string& name, const std::string& help, const labels& l) {
  std::lock_guard lock(mutex_);
  family& f = family_of(name, help, kind::gauge);
  std::string key = render_labels(l);
  auto [it, inserted] = f.index.try_emplace(key, gauges_.size());
  if (inserted) gauges_.emplace_back();
  return gauges_[it->second];
}

void registry::add_callback(const std::string& name, const std::string& help, kind k,
                            const labels& l, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  family& f = family_of(name, help, k);
  std::string key = render_labels(l);
  f.index[key] = callbacks_.size();
  callback_slots_[name][key] = callbacks_.size();
  callbacks_.push_back(std::move(read));
}

void registry::callback_gauge(const std::string& name, const std::string& help, const labels& l,
                              std::function<double()> read) {
  add_callback(name, help, kind::gauge, l, std::move(read));
}

void registry::callback_counter(const std::string& name, const std::string& help, const labels& l,
                                std::function<double()> read) {
  add_callback(name, help, kind::counter, l, std::move(read));
}

histogram& registry::histogram_of(const std::string& name, const std::string& help, const labels& l,
                                  std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  family& f = family_of(name, help, kind::histogram);
  auto [it, inserted] = f.index.try_emplace(render_labels(l), histograms_.size());
  if (inserted) histograms_.emplace_back(std::move(bounds));
  return histograms_[it->second];
}

void registry::drop_callback(const std::string& name, const labels& l) {
  std::lock_guard lock(mutex_);
  std::string key = render_labels(l);
  auto cb = callback_slots_.find(name);
  if (cb == callback_slots_.end() || !cb->second.erase(key)) return;
  families_.at(name).index.erase(key);
}

namespace {
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  std::ostringstream os;
  os.precision(12);
  os << v;
  return os.str();
}

// Inserts le="..." into a rendered label set.
std::string with_le(const std::string& rendered, const std::string& le) {
  if (rendered.empty()) return "{le=\"" + le + "\"}";
  return rendered.substr(0, rendered.size() - 1) + ",le=\"" + le + "\"}";
}
}  // namespace

std::string registry::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
    out << "# HELP " << name << ' ' << f.help << '\n';
    out << "# TYPE " << name << ' ' << type_names[static_cast<int>(f.k)] << '\n';
    auto cb = callback_slots_.find(name);
    for (const auto& [lbl, slot] : f.index) {
      if (cb != callback_slots_.end() && cb->second.count(lbl)) {
        out << name << lbl << ' ' << number(callbacks_[slot]()) << '\n';
        continue;
      }
      switch (f.k) {
        case kind::counter:
          out << name << lbl << ' ' << counters_[slot].value() << '\n';
          break;
        case kind::gauge:
          out << name << lbl << ' ' << number(gauges_[slot].value()) << '\n';
          break;
        case kind::histogram: {
          auto snap = histograms_[slot].read();
          for (std::size_t i = 0; i < snap.bounds.size(); ++i)
            out << name << "_bucket" << with_le(lbl, number(snap.bounds[i])) << ' '
                << snap.cumulative[i] << '\n';
          out << name << "_bucket" << with_le(lbl, "+Inf") << ' ' << snap.count << '\n';
          out << name << "_sum" << lbl << ' ' << number(snap.sum) << '\n';
          out << name << "_count" << lbl << ' ' << snap.count << '\n';
          break;
        }
      }
    }
  }
  return out.str();
}

registry& global() {
  static registry r;
  return r;
}

}  // namespace omni::core::metrics
