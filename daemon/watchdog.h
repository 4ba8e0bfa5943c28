#pragma once
// The systemd watchdog, fed only while every registered loop is alive. Each loop that must not hang
// (the io threads, the routing loop) registers a name and calls beat() from inside its own loop;
// a background ticker sends WATCHDOG=1 every interval/2 only if every loop beat since the last
// ping. A stalled routing loop therefore stops the pings, and systemd restarts the service.
// Thread-safe. Owned by the application.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace omni::daemon {

class watchdog {
 public:
  // `send` delivers one WATCHDOG=1 (notify::watchdog by default; tests pass their own).
  watchdog(std::chrono::milliseconds interval, std::function<void()> send);
  ~watchdog();
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  // A loop that must keep beating; returns the counter it bumps (stable address).
  std::atomic<std::uint64_t>& add(const std::string& loop);
  void remove(const std::string& loop);
  // Names of loops that did not beat during the last period (for logs and /readyz).
  std::vector<std::string> stalled() const;
  std::uint64_t pings() const { return pings_.load(); }

 private:
  void run();

  std::chrono::milliseconds interval_;
  std::function<void()> send_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>> beats_;
  std::map<std::string, std::uint64_t> seen_;
  std::vector<std::string> stalled_;
  std::atomic<std::uint64_t> pings_{0};
  std::thread thread_;
};

}  // namespace omni::daemon
