#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "daemon/watchdog.h"

namespace omni::daemon {
namespace {

using namespace std::chrono_literals;

// Waits until `pred` holds or the deadline passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(watchdog, pings_while_every_loop_beats_and_stops_when_one_stalls) {
  std::atomic<int> sent{0};
  watchdog w(100ms, [&] { sent++; });
  auto& io = w.add("io");
  auto& router = w.add("router");
  std::atomic<bool> router_alive{true}, stop{false};
  std::thread loops([&] {
    while (!stop) {
      io++;
      if (router_alive) router++;
      std::this_thread::sleep_for(5ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return sent >= 3; }));
  // Eventually, not at once: on a loaded host the beating thread may miss one 100 ms window.
  EXPECT_TRUE(eventually([&] { return w.stalled().empty(); }));

  router_alive = false;  // the routing loop hangs
  ASSERT_TRUE(eventually([&] { return w.stalled() == std::vector<std::string>{"router"}; }));
  int frozen = sent;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sent.load(), frozen) << "a stalled loop must stop the pings";

  router_alive = true;  // it recovers
  EXPECT_TRUE(eventually([&] { return sent > frozen; }));
  stop = true;
  loops.join();
}

TEST(watchdog, removed_loops_no_longer_count) {
  std::atomic<int> sent{0};
  watchdog w(60ms, [&] { sent++; });
  w.add("gone");
  ASSERT_TRUE(eventually([&] { return !w.stalled().empty(); }));
  w.remove("gone");
  EXPECT_TRUE(eventually([&] { return w.stalled().empty() && sent > 0; }));
}

}  // namespace
}  // namespace omni::daemon
