#pragma once
// Prometheus-style metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format by the admin endpoint. Thread-safe: series are created under a mutex once and
// then updated lock-free through the returned reference, which stays valid for the registry's life.
//
// Names follow omniroute_<what>_<unit>[_total], e.g.
// omniroute_contacts_received_total{channel,provider}.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace omni::core::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Latency buckets in seconds, 100 µs .. 10 s.
std::vector<double> latency_buckets();

class registry {
 public:
  counter& counter_of(const std::string& name, const std::string& help, const labels& l = {});
  gauge& gauge_of(const std::string& name, const std::string& help, const labels& l = {});
  histogram& histogram_of(const std::string& name, const std::string& help, const labels& l = {},
                          std::vector<double> bounds = latency_buckets());
  // A gauge whose value is read at render time (queue depth, active connections, ...).
  void callback_gauge(const std::string& name, const std::string& help, const labels& l,
                      std::function<double()> read);
  // A counter kept elsewhere (e.g. a listener's atomics), read at render time.
  void callback_counter(const std::string& name, const std::string& help, const labels& l,
                        std::function<double()> read);

  // Removes a callback series (its owner is going away).
  void drop_callback(const std::string& name, const labels& l);

  std::string render() const;

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind k;
    std::string help;
    std::map<std::string, std::size_t> index;  // rendered label set -> slot
  };
  family& family_of(const std::string& name, const std::string& help, kind k);

  mutable std::mutex mutex_;
  std::map<std::string, family> families_;
  std::deque<counter> counters_;
  std::deque<gauge> gauges_;
  std::deque<histogram> histograms_;
  std::deque<std::function<double()>> callbacks_;
  // Per family, per label text: the callbacks_ slot of a series read at render time.
  std::map<std::string, std::map<std::string, std::size_t>> callback_slots_;
  void add_callback(const std::string& name, const std::string& help, kind k, const labels& l,
                    std::function<double()> read);
};

// The process-wide registry the admin endpoint renders.
registry& global();

// Renders {k="v",...} with Prometheus escaping; empty for no labels.
std::string render_labels(const labels& l);

}  // namespace omni::core::metrics
