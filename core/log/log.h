#pragma once
// One spdlog logger per module ("omni.router", "omni.imap", ...), all writing to one sink: the
// console, or journald when the process runs under systemd.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace omni::core::log {

enum class sink_kind { automatic, console, journald };

// Sets the level and sink for every logger, existing and future. Safe to call again (reload).
// `level` is one of trace, debug, info, warn, error; anything else means info.
void init(std::string_view level, sink_kind sink);

// True when systemd started us with the journal as stdout/stderr (JOURNAL_STREAM set).
bool under_systemd();

// The named logger, created on first use with the current sink and level.
std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace omni::core::log
