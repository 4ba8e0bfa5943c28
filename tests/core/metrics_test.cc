#include <gtest/gtest.h>

#include "core/metrics/metrics.h"

namespace omni::core::metrics {
namespace {

TEST(metrics, renders_prometheus_text) {
  registry r;
  r.counter_of("omniroute_contacts_received_total", "Contacts.",
               {{"channel", "email"}, {"provider", "imap"}})
      .inc(3);
  r.counter_of("omniroute_contacts_received_total", "Contacts.",
               {{"channel", "email"}, {"provider", "imap"}})
      .inc();
  r.gauge_of("omniroute_queue_waiting", "Waiting.", {{"queue", "sup\"port"}}).set(7);
  r.callback_gauge("omniroute_up", "Up.", {}, [] { return 1.0; });
  auto& h = r.histogram_of("omniroute_routing_decision_seconds", "Decisions.", {}, {0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(5);
  std::string text = r.render();
  EXPECT_NE(text.find("# TYPE omniroute_contacts_received_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("omniroute_contacts_received_total{channel=\"email\",provider=\"imap\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("omniroute_queue_waiting{queue=\"sup\\\"port\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("omniroute_up 1\n"), std::string::npos);
  EXPECT_NE(text.find("omniroute_routing_decision_seconds_bucket{le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("omniroute_routing_decision_seconds_bucket{le=\"0.01\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("omniroute_routing_decision_seconds_bucket{le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("omniroute_routing_decision_seconds_count 3\n"), std::string::npos);
}

TEST(metrics, type_clash_is_a_programming_error) {
  registry r;
  r.counter_of("x_total", "x");
  EXPECT_THROW(r.gauge_of("x_total", "x"), std::logic_error);
}

}  // namespace
}  // namespace omni::core::metrics
