#pragma once
// systemd service notifications (sd_notify): READY=1, STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1.
// A no-op when NOTIFY_SOCKET is unset (not run by systemd). Thread-safe.

#include <chrono>
#include <optional>
#include <string_view>

namespace omni::daemon::notify {

void ready(std::string_view status);
void status(std::string_view status);
void reloading();
void stopping(std::string_view status);
void watchdog();
// The watchdog interval systemd asked for (WATCHDOG_USEC), if any.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace omni::daemon::notify
