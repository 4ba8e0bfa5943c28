#include "daemon/watchdog.h"

#include <fmt/ranges.h>

#include "core/log/log.h"

namespace omni::daemon {

watchdog::watchdog(std::chrono::milliseconds interval, std::function<void()> send)
    : interval_(interval), send_(std::move(send)), thread_([this] { run(); }) {}

watchdog::~watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::atomic<std::uint64_t>& watchdog::add(const std::string& loop) {
  std::lock_guard lock(mutex_);
  auto& slot = beats_[loop];
  if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  seen_[loop] = slot->load() - 1;  // counts as alive until its first period has passed
  return *slot;
}

void watchdog::remove(const std::string& loop) {
  std::lock_guard lock(mutex_);
  beats_.erase(loop);
  seen_.erase(loop);
}

std::vector<std::string> watchdog::stalled() const {
  std::lock_guard lock(mutex_);
  return stalled_;
}

void watchdog::run() {
  static auto log = core::log::get("omni.watchdog");
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (cv_.wait_for(lock, interval_ / 2, [this] { return stop_; })) break;
    std::vector<std::string> stalled;
    for (auto& [name, beat] : beats_) {
      std::uint64_t now = beat->load();
      if (now == seen_[name]) stalled.push_back(name);
      seen_[name] = now;
    }
    if (stalled != stalled_ && !stalled.empty())
      log->error("loop(s) not responding, withholding the watchdog ping: {}",
                 fmt::join(stalled, ", "));
    stalled_ = stalled;
    if (stalled.empty()) {
      send_();
      pings_++;
    }
  }
}

}  // namespace omni::daemon
