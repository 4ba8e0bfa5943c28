#include "daemon/notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace omni::daemon::notify {
namespace {
void send(const std::string& state) { sd_notify(0, state.c_str()); }
}  // namespace

void ready(std::string_view s) { send("READY=1\nSTATUS=" + std::string(s)); }
void status(std::string_view s) { send("STATUS=" + std::string(s)); }
void reloading() { send("RELOADING=1\nSTATUS=reloading configuration"); }
void stopping(std::string_view s) { send("STOPPING=1\nSTATUS=" + std::string(s)); }
void watchdog() { send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

}  // namespace omni::daemon::notify
